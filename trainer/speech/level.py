"""How far speech stands above the room's noise, for a whole recording or a live stream.

Measured without finding speech first (noise is what makes speech hard to find): the
level that loud frames reach often against the level of the quiet frames between words
and turns. Real meeting excerpts measure 34-48 dB however they are compressed,
band-limited or turned down (the 11-s jfk.flac, too short to be judged, 31); with white
noise 20 dB below their speech 22-26 dB, and there voices were split and attribution fell
from 0.88 to 0.79 (`bench/bench_conditions.py`, README "Recording conditions"). Milder
noise is not caught: 25 dB below the speech measured 27-31 dB and already cost the right
count in 3 of the 8 excerpts (4 right against 7).
"""

from __future__ import annotations

import numpy as np

from trainer.speech.audio import SAMPLE_RATE, Audio

NOISY_DB = 25.0  # speech less far above the background than this is called noisy
FRAME = int(0.032 * SAMPLE_RATE)  # one Silero frame
SPEECH_PERCENTILE = 95  # the level speech reaches often: loud syllables, not one shout
BACKGROUND_PERCENTILE = 10  # the level between words and turns: the room
SILENT_DB = -70.0  # below this speech level there is nothing to compare
# Less than this is not judged: the background is the level between words and turns, and a
# short clip can be speech from end to end (the 5-s stereo test clip's left channel: 20 dB).
MIN_SECONDS = 20.0
FLOOR_DB, BIN_DB = -120.0, 0.1  # levels are counted in bins this fine from this floor to 0 dBFS
CHUNK_S = 600.0  # a recording is measured this much at a time: a 2-hour file makes no full-length mix


def is_noisy(level_db: float | None) -> bool:
    """Whether speech stood so little above the background that voices and words may go wrong."""
    return level_db is not None and level_db < NOISY_DB


class LevelMeter:
    """A running count of frame levels; fed a whole file in pieces or a live stream block by block."""

    def __init__(self) -> None:
        self._counts = np.zeros(int(-FLOOR_DB / BIN_DB) + 1, dtype=np.int64)
        self._rest = np.zeros(0, dtype=np.float32)  # samples of a frame not yet complete

    @property
    def frames(self) -> int:
        """Frames measured so far."""
        return int(self._counts.sum())

    def add(self, samples: np.ndarray) -> None:
        """Count the levels of the whole frames in `samples` (mono, SAMPLE_RATE), keeping the rest."""
        joined = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32)])
        whole = len(joined) // FRAME * FRAME
        power = np.square(joined[:whole].reshape(-1, FRAME), dtype=np.float64).mean(axis=1)
        levels = np.clip(10 * np.log10(power + 1e-12), FLOOR_DB, 0.0)
        self._counts += np.bincount(np.round((levels - FLOOR_DB) / BIN_DB).astype(int), minlength=len(self._counts))
        self._rest = joined[whole:]

    def level_db(self, percentile: float) -> float:
        """The frame level below which `percentile` percent of the frames lie."""
        rank = np.searchsorted(np.cumsum(self._counts), percentile / 100 * self.frames)
        return FLOOR_DB + int(rank) * BIN_DB

    def speech_over_background_db(self) -> float | None:
        """Speech level minus background level; None before MIN_SECONDS or for silence."""
        if self.frames * FRAME < MIN_SECONDS * SAMPLE_RATE:
            return None
        speech = self.level_db(SPEECH_PERCENTILE)
        return None if speech < SILENT_DB else speech - self.level_db(BACKGROUND_PERCENTILE)


def speech_over_background_db(audio: Audio) -> float | None:
    """How far speech stands above the background in the channel mix, in dB; None when too short or silent."""
    meter, step = LevelMeter(), int(CHUNK_S * SAMPLE_RATE)
    for start in range(0, audio.samples.shape[1], step):
        meter.add(audio.samples[:, start : start + step].mean(axis=0, dtype=np.float32))
    return meter.speech_over_background_db()
