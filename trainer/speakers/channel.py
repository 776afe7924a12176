"""Two microphones: each voice on its own channel of a stereo recording.

Each moment goes to the clearly louder channel; the left channel is the counsellor's
unless the user swaps them. The words come from transcribing each channel on its own
(`trainer.longform`), so they already carry their channel; words that are only the
other microphone's cross-talk are dropped.
"""

from __future__ import annotations

import numpy as np

from trainer.schema import Role, SpeakerTurn, Transcript, Word
from trainer.speakers.strategy import SpeakerOptions, Voices
from trainer.speakers.turns import FRAME_S, label_words, runs_to_turns
from trainer.speech.audio import SAMPLE_RATE, Audio

SILENCE_DB = -45.0  # frames this far below the loudest frame are silence
DOMINANCE_DB = 6.0  # a channel must be this much louder to own a frame
BLEED_DB = 20.0  # a word this far below its channel's speech level is cross-talk


def _frame_db(samples: np.ndarray) -> np.ndarray:
    """Energy per frame in dB (shape: channels x frames)."""
    hop = int(FRAME_S * SAMPLE_RATE)
    n = samples.shape[-1] // hop
    frames = samples[..., : n * hop].reshape(*samples.shape[:-1], n, hop)
    # einsum squares and sums in float64 block by block: no float64 copy of the recording.
    energy = np.einsum("...i,...i->...", frames, frames, dtype=np.float64) / hop
    return 10 * np.log10(energy + 1e-12)


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


def channel_labels(options: SpeakerOptions = SpeakerOptions()) -> tuple[str, str]:
    """Speaker labels of the two channels, counsellor's first."""
    return ("right", "left") if options.swap_roles else ("left", "right")


def drop_bleed(words: tuple[Word, ...], audio: Audio) -> tuple[Word, ...]:
    """Channel-labelled words less those that are only cross-talk from the other microphone.

    A word is kept when its own channel carries speech at that moment: within
    BLEED_DB of that channel's typical speech level. Both channels loud (people
    talking over each other) keeps the words of both.
    """
    db = _frame_db(audio.samples[:2])
    index = {"left": 0, "right": 1}
    speech_level = np.percentile(db, 95, axis=1)
    kept = []
    for w in words:
        channel = index.get(w.speaker or "")
        if channel is None:
            kept.append(w)
            continue
        lo, hi = int(w.start / FRAME_S), max(int(w.end / FRAME_S), int(w.start / FRAME_S) + 1)
        own = db[channel, lo:hi]
        if own.size == 0 or own.max() >= speech_level[channel] - BLEED_DB:
            kept.append(w)
    return tuple(kept)


def channel_voices(audio: Audio, transcript: Transcript, options: SpeakerOptions) -> Voices:
    """The voices of a stereo recording with one voice per channel (a `Strategy`)."""
    turns = channel_turns(audio)
    counsellor, client = channel_labels(options)
    return Voices(
        turns=turns,
        words=label_words(drop_bleed(transcript.words, audio), turns),
        method="channel",
        roles=((counsellor, Role.COUNSELLOR), (client, Role.CLIENT)),
    )
