"""Stage 3: who spoke when, each word's speaker, and which voice is the counsellor's.

Strategies behind one interface (`strategy.Strategy`), each returning the turns and
every word with its speaker, so that no later stage assigns words again:

- channel: a stereo recording with one voice per channel (`channel`);
- diarization: one microphone, voices told apart by their sound (`diarize`);
- reference: the speakers of a reference transcript beside the recording (`reference`).

Roles come from what the strategy knows (a channel, a reference), else from the
counsellor's enrolled voice (`enrol`), else from what each voice says (`roles`).
"""

from __future__ import annotations

from trainer.errors import SpeakerError
from trainer.schema import Attribution, Transcript
from trainer.speakers.strategy import METHODS, SpeakerOptions, Strategy, Voices
from trainer.speech.audio import Audio

__all__ = ["METHODS", "SpeakerOptions", "attribute", "choose_method", "extra_voices_warning"]


def extra_voices_warning(found: int) -> str:
    """The warning of a recording with more than two voices (dropped once a person set out the roles)."""
    return f"{found} voices found; all but the counsellor count as client"


def choose_method(audio: Audio, options: SpeakerOptions = SpeakerOptions()) -> str:
    """'channel' for stereo with one voice per channel, else the method asked for or 'diarization'.

    Raises:
        SpeakerError: the requested method cannot apply to this recording.
    """
    if options.method not in METHODS:
        raise SpeakerError(f"unknown speaker method {options.method!r}; choose from {', '.join(METHODS)}")
    two_voices = audio.channels_differ()
    if options.method == "channel" and not two_voices:
        raise SpeakerError(f"{audio.label}: channel attribution needs a stereo recording with one voice per channel")
    if options.method == "auto":
        return "channel" if two_voices else "diarization"
    return options.method


def strategy(method: str) -> Strategy:
    """The strategy of a method chosen by `choose_method` (heavy ones import on demand)."""
    if method == "channel":
        from trainer.speakers.channel import channel_voices

        return channel_voices
    if method == "reference":
        from trainer.speakers.reference import reference_voices

        return reference_voices
    from trainer.speakers.diarize import diarized_voices

    return diarized_voices


def _roles(voices: Voices, options: SpeakerOptions) -> tuple[tuple, float]:
    """Roles and their confidence: known, by the enrolled voice, or by what each voice says."""
    if voices.roles is not None:
        return voices.roles, 1.0
    if options.counsellor_voice and voices.centroids:
        from trainer.speakers.enrol import load_profile, roles_by_voice

        return roles_by_voice(voices, load_profile(options.counsellor_voice), options.swap_roles)
    from trainer.speakers.roles import assign_roles

    return assign_roles(voices.words, voices.turns, swap=options.swap_roles)


def attribute(
    audio: Audio, transcript: Transcript, method: str, options: SpeakerOptions = SpeakerOptions()
) -> Attribution:
    """Find who spoke when in a recording, each word's speaker, and the counsellor's voice.

    Raises:
        SpeakerError: no speech to tell voices apart, or an enrolled voice that is not there.
    """
    voices = strategy(method)(audio, transcript, options)
    roles, confidence = _roles(voices, options)
    found = len({t.speaker for t in voices.turns} | {w.speaker for w in voices.words})
    warnings = list(voices.warnings)
    expected = options.n_speakers
    if method == "diarization" and expected is not None and found < expected:
        warnings.append(f"only {found} voice(s) told apart where {expected} were expected")
    if found > 2:
        warnings.append(extra_voices_warning(found))
    return Attribution(
        turns=voices.turns,
        roles=roles,
        method=voices.method,
        role_confidence=confidence,
        n_speakers=found,
        warnings=tuple(warnings),
        words=voices.words,
    )
