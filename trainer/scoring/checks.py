"""Sanity checks on what an input gave, so a bad input says what is wrong in one line.

Each check either refuses (raises a TrainerError: nothing fair can be scored) or
returns warnings (the session is scored, but the trainee or instructor should know):

- no speech at all (silence, noise, instrumental music): refused;
- speech the recogniser says is not English (multilingual models only): refused;
- speech recognised with low confidence (unclear audio, or not English under an
  English-only model such as tiny.en): warned;
- a recording that ends earlier than its header says (truncated or damaged): warned;
- speech barely above the room's noise (voices and words go wrong there): warned;
- only one side of the conversation, or too few counsellor turns to judge: warned.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainer.errors import LanguageError, NoSpeechError
from trainer.schema import CodedUtterance, Role, Transcript
from trainer.speech.audio import Audio
from trainer.speech.level import NOISY_DB, is_noisy
from trainer.vocabulary import LANGUAGE

# Mean word probability below this: on English speech tiny.en gives about 0.9, on
# German, French or Spanish speech (which it cannot recognise) about 0.45 to 0.6.
MIN_MEAN_PROBABILITY = 0.7
TRUNCATED_SHARE = 0.9  # decoding less than this share of the declared length means damage
TRUNCATED_MIN_S = 1.0  # ...and missing at least this many seconds (headers are estimates)
MIN_COUNSELLOR_UTTERANCES = 5  # fewer turns give metrics that one utterance can swing


def declared_duration(path: str) -> float | None:
    """Length the container's header declares, in seconds; None when it declares none."""
    import av

    try:
        with av.open(path, metadata_errors="ignore") as container:
            return container.duration / 1e6 if container.duration else None
    except (av.error.FFmpegError, OSError, ValueError):
        return None


def check_audio(audio: Audio, level_db: float | None) -> tuple[str, ...]:
    """Warn when less audio was decoded than the file declares (truncated or corrupt), or when it is noisy.

    `level_db` is how far speech stands above the background (`speech_over_background_db`).
    """
    warnings = []
    declared = declared_duration(audio.source)
    decoded = audio.duration_s
    if declared and decoded < TRUNCATED_SHARE * declared and declared - decoded >= TRUNCATED_MIN_S:
        warnings.append(
            f"recording ends early: {decoded:.1f} s of {declared:.1f} s decoded (file truncated or damaged)"
        )
    if is_noisy(level_db):
        warnings.append(
            f"noisy recording: speech only {level_db:.0f} dB above the background "
            f"({NOISY_DB:.0f} dB or more is clear), so voices, words and codes may be wrong; "
            "record nearer the microphone or in a quieter room"
        )
    return tuple(warnings)


def check_transcript(transcript: Transcript, source: str) -> tuple[str, ...]:
    """Refuse a transcript with no words or in another language; warn when it is unsure.

    Raises:
        NoSpeechError: nothing was recognised.
        LanguageError: a multilingual model heard a language other than English.
    """
    if not transcript.words:
        raise NoSpeechError(f"{source}: no speech was recognised (silence, noise or music only)")
    if transcript.language and transcript.language != LANGUAGE:
        raise LanguageError(f"{source}: speech is in {transcript.language!r}; the behaviour coder reads English only")
    mean = sum(w.probability for w in transcript.words) / len(transcript.words)
    if mean < MIN_MEAN_PROBABILITY:
        return (
            f"speech recognised with low confidence (mean word probability {mean:.2f}): unclear audio, or not English",
        )
    return ()


def check_roles(coded: Sequence[CodedUtterance]) -> tuple[str, ...]:
    """Warn when one side of the conversation is missing or too short to judge."""
    counsellor = sum(c.speaker is Role.COUNSELLOR for c in coded)
    if not counsellor:
        return ("no counsellor speech found",)
    warnings = []
    if counsellor == len(coded):
        warnings.append("only one speaker heard: no client speech found")
    if counsellor < MIN_COUNSELLOR_UTTERANCES:
        warnings.append(f"only {counsellor} counsellor utterance(s): too few for reliable metrics")
    return tuple(warnings)
