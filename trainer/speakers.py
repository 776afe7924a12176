"""Stage 3: who spoke when, and which voice is the counsellor's.

Strategies behind one function, `attribute`:

- channel: a stereo recording with one voice per channel (left = counsellor unless
  swapped); each moment goes to the louder channel.
- diarization: a single-microphone recording; voices are clustered (trainer.diarize).

Words are then given to speakers by largest time overlap (`assign_words`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from trainer.errors import SpeakerError
from trainer.schema import Attribution, Role, SpeakerTurn, Transcript, Word
from trainer.speech.audio import SAMPLE_RATE, Audio

FRAME_S = 0.02  # energy frame length in seconds
SILENCE_DB = -45.0  # frames this far below the loudest frame are silence
DOMINANCE_DB = 6.0  # a channel must be this much louder to own a frame
MIN_GAP_S = 0.3  # shorter silences inside one speaker's turn are bridged
MIN_TURN_S = 0.1  # shorter bursts (clicks, breaths) are dropped
BLEED_DB = 20.0  # a word this far below its channel's speech level is cross-talk
METHODS = ("auto", "channel", "diarization")


@dataclass(frozen=True)
class SpeakerOptions:
    """How to attribute speech to speakers."""

    method: str = "auto"  # auto: channel for two-voice stereo, diarization otherwise
    swap_roles: bool = False  # the counsellor is the other voice (right channel)
    n_speakers: int = 2  # voices expected in a single-microphone recording


def _frame_db(samples: np.ndarray) -> np.ndarray:
    """Energy per frame in dB (shape: channels x frames)."""
    hop = int(FRAME_S * SAMPLE_RATE)
    n = samples.shape[-1] // hop
    frames = samples[..., : n * hop].reshape(*samples.shape[:-1], n, hop)
    # einsum squares and sums in float64 block by block: no float64 copy of the recording.
    energy = np.einsum("...i,...i->...", frames, frames, dtype=np.float64) / hop
    return 10 * np.log10(energy + 1e-12)


def runs_to_turns(labels: Sequence[str | None]) -> tuple[SpeakerTurn, ...]:
    """Frame labels (None = silence) to turns, bridging short gaps, dropping blips."""
    turns: list[SpeakerTurn] = []
    for i, label in enumerate(labels):
        if label is None:
            continue
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if turns and turns[-1].speaker == label and start - turns[-1].end <= MIN_GAP_S:
            turns[-1] = SpeakerTurn(turns[-1].start, end, label)
        else:
            turns.append(SpeakerTurn(start, end, label))
    return tuple(t for t in turns if t.end - t.start >= MIN_TURN_S)


def channel_turns(audio: Audio) -> tuple[SpeakerTurn, ...]:
    """Turns of a two-channel recording: each frame goes to the clearly louder channel."""
    db = _frame_db(audio.samples[:2])
    loud = db.max(axis=0)
    floor = loud.max() + SILENCE_DB
    labels: list[str | None] = []
    for left, right, top in zip(db[0], db[1], loud):
        if top < floor:
            labels.append(None)
        elif left - right >= DOMINANCE_DB:
            labels.append("left")
        elif right - left >= DOMINANCE_DB:
            labels.append("right")
        else:
            labels.append(labels[-1] if labels else None)  # overlap: keep the current speaker
    return runs_to_turns(labels)


def assign_words(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> tuple[str, ...]:
    """Speaker label per word: its own label if it has one, else the turn overlapping it
    most, else the nearest turn."""
    if not turns and any(w.speaker is None for w in words):
        raise SpeakerError("no speech turns found to attribute words to")
    starts = np.array([t.start for t in turns])
    ends = np.array([t.end for t in turns])
    labels = []
    for word in words:
        if word.speaker is not None:
            labels.append(word.speaker)
            continue
        overlap = np.minimum(ends, word.end) - np.maximum(starts, word.start)
        best = int(np.argmax(overlap))
        if overlap[best] <= 0:
            mid = (word.start + word.end) / 2
            best = int(np.argmin(np.minimum(abs(starts - mid), abs(ends - mid))))
        labels.append(turns[best].speaker)
    return tuple(labels)


def choose_method(audio: Audio, options: SpeakerOptions = SpeakerOptions()) -> str:
    """'channel' for stereo with one voice per channel, else 'diarization'.

    Raises:
        SpeakerError: the requested method cannot apply to this recording.
    """
    if options.method not in METHODS:
        raise SpeakerError(f"unknown speaker method {options.method!r}; choose from {', '.join(METHODS)}")
    two_voices = audio.channels_differ()
    if options.method == "channel" and not two_voices:
        raise SpeakerError(f"{audio.source}: channel attribution needs a stereo recording with one voice per channel")
    if options.method == "auto":
        return "channel" if two_voices else "diarization"
    return options.method


def channel_labels(options: SpeakerOptions = SpeakerOptions()) -> tuple[str, str]:
    """Speaker labels of the two channels, counsellor's first."""
    return ("right", "left") if options.swap_roles else ("left", "right")


def attribute(
    audio: Audio, transcript: Transcript, method: str, options: SpeakerOptions = SpeakerOptions()
) -> Attribution:
    """Find who spoke when in a recording and which voice is the counsellor's.

    For the channel method the transcript comes from `transcribe_channels`, so its
    words already carry their channel (see also `drop_bleed`).
    """
    if method == "channel":
        counsellor, client = channel_labels(options)
        return Attribution(
            turns=channel_turns(audio),
            roles=((counsellor, Role.COUNSELLOR), (client, Role.CLIENT)),
            method="channel",
        )
    from trainer import diarize  # heavy: the speaker encoder loads only when needed

    return diarize.attribute_mono(audio, transcript, options)


def drop_bleed(transcript: Transcript, audio: Audio) -> Transcript:
    """Remove channel-labelled words that are only cross-talk from the other microphone.

    A word is kept when its own channel carries speech at that moment: within
    BLEED_DB of that channel's typical speech level. Both channels loud (people
    talking over each other) keeps the words of both.
    """
    db = _frame_db(audio.samples[:2])
    index = {"left": 0, "right": 1}
    speech_level = np.percentile(db, 95, axis=1)
    kept = []
    for w in transcript.words:
        channel = index.get(w.speaker or "")
        if channel is None:
            kept.append(w)
            continue
        lo, hi = int(w.start / FRAME_S), max(int(w.end / FRAME_S), int(w.start / FRAME_S) + 1)
        own = db[channel, lo:hi]
        if own.size == 0 or own.max() >= speech_level[channel] - BLEED_DB:
            kept.append(w)
    return replace(transcript, words=tuple(kept))
