"""Cut a stream of 16 kHz samples into speech windows as each one ends.

Silero VAD (its ONNX model ships inside faster-whisper) scores every 32 ms window; its
recurrent state and the 64 samples of context it reads before each window are kept
between calls, so scoring a stream block by block gives the probabilities of scoring
the whole recording at once (tests/test_live_vad.py checks this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000  # Hz; what Silero and Whisper expect
WINDOW = 512  # samples Silero scores at a time (32 ms)
CONTEXT = 64  # samples of the previous window Silero reads before each window
STATE_SHAPE = (1, 1, 128)  # Silero v6's recurrent state (h and c)
DOMINANCE_FRAME = 320  # samples (20 ms) per frame when comparing channels
SPEECH_RANGE_DB = 30.0  # frames within this of a window's loudest are its speech


@dataclass(frozen=True)
class SegmenterOptions:
    """When speech starts and ends; defaults suit turn-taking in a role play."""

    threshold: float = 0.5  # a window this likely to be speech starts (or continues) speech
    neg_threshold: float = 0.35  # below this a window is silence (Silero's own default gap)
    min_silence_s: float = 0.3  # this much silence ends a window: turns change at short pauses
    min_speech_s: float = 0.25  # shorter bursts (clicks, breaths) are not speech
    pad_s: float = 0.1  # kept either side of the speech, so no word loses its edge
    max_speech_s: float = 15.0  # longer speech is cut at its last pause, so a monologue still shows


@dataclass(frozen=True, eq=False)
class SpeechWindow:
    """One stretch of speech, as the VAD heard it end."""

    start: float  # seconds from the start of the stream
    end: float  # seconds, > start
    samples: np.ndarray  # float32 mono at SAMPLE_RATE, start..end, of the channel listened to
    channel: int = 0  # which input channel it came from (stereo: one voice per channel)
    # Its channel's level over the loudest other channel's in the same span, in dB
    # (inf for mono): far below 0, the voice is the other person's, picked up across the room.
    dominance_db: float = float("inf")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end - self.start


class StreamingVad:
    """Silero speech probabilities of a stream, one per WINDOW samples."""

    def __init__(self) -> None:
        """Load the model (cached by faster-whisper) and start from silence."""
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities of every whole window completed by `samples` (may be empty)."""
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n = len(data) // WINDOW * WINDOW
        self._pending = data[n:]
        if not n:
            return np.zeros(0, dtype=np.float32)
        windows = data[:n].reshape(-1, WINDOW)
        before = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]])
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([before, windows], axis=1), "h": self._h, "c": self._c}
        )
        self._context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)


class Segmenter:
    """Turns blocks of (channels, n) samples into SpeechWindows of one channel as each ends.

    Only the samples of the speech being heard (and a little before it) are kept, so
    memory stays flat however long the stream runs.
    """

    def __init__(self, options: SegmenterOptions = SegmenterOptions(), channel: int = 0) -> None:
        """Start at time 0 in silence."""
        self.options = options
        self.channel = channel
        self._vad = StreamingVad()
        self._buffer: np.ndarray | None = None  # (channels, n) samples from _buffer_start on
        self._buffer_start = 0  # sample index of _buffer[0]
        self._seen = 0  # samples scored so far (whole windows)
        self._speech_start: int | None = None  # sample where the current speech began
        self._last_speech = 0  # end of the last window heard as speech
        self._last_pause: int | None = None  # a short pause inside the current speech, for long cuts

    @property
    def speaking_since(self) -> float | None:
        """Start (seconds) of speech still going on, or None in silence."""
        return None if self._speech_start is None else self._speech_start / SAMPLE_RATE

    def feed(self, samples: np.ndarray) -> list[SpeechWindow]:
        """Add (channels, n) samples at SAMPLE_RATE; return the windows of speech that ended within them."""
        samples = samples.astype(np.float32, copy=False)
        self._buffer = samples if self._buffer is None else np.concatenate([self._buffer, samples], axis=1)
        ended = []
        for p in self._vad(samples[self.channel]):
            at = self._seen
            self._seen += WINDOW
            ended.extend(self._step(float(p), at))
        self._drop_before(self._seen - round(self.options.pad_s * SAMPLE_RATE))
        return ended

    def flush(self) -> list[SpeechWindow]:
        """End the stream: speech still going on becomes a last window."""
        if self._speech_start is None:
            return []
        window = self._cut(self._speech_start, max(self._last_speech, self._seen))
        self._speech_start = None
        return [window] if window is not None else []

    def _step(self, p: float, at: int) -> list[SpeechWindow]:
        o = self.options
        if p >= o.threshold:
            if self._speech_start is None:
                self._speech_start, self._last_pause = at, None
            self._last_speech = at + WINDOW
        elif self._speech_start is not None and p < o.neg_threshold:
            silence = at + WINDOW - self._last_speech
            if silence >= o.min_silence_s * SAMPLE_RATE:
                window = self._cut(self._speech_start, self._last_speech)
                self._speech_start = None
                return [window] if window is not None else []
            self._last_pause = self._last_speech
        if self._speech_start is not None and at + WINDOW - self._speech_start >= o.max_speech_s * SAMPLE_RATE:
            # Cut at the last pause if there was one, else right here; speech goes on after it.
            cut = self._last_pause if self._last_pause and self._last_pause > self._speech_start else at + WINDOW
            window = self._cut(self._speech_start, cut)
            self._speech_start, self._last_pause = cut, None
            return [window] if window is not None else []
        return []

    def _cut(self, start: int, end: int) -> SpeechWindow | None:
        """The window start..end with padding, or None if too short to be speech."""
        if end - start < self.options.min_speech_s * SAMPLE_RATE:
            return None
        pad = round(self.options.pad_s * SAMPLE_RATE)
        lo = max(self._buffer_start, start - pad)
        hi = min(self._buffer_start + self._buffer.shape[1], end + pad)
        span = self._buffer[:, lo - self._buffer_start : hi - self._buffer_start]
        return SpeechWindow(
            lo / SAMPLE_RATE, hi / SAMPLE_RATE, span[self.channel].copy(), self.channel, _dominance(span, self.channel)
        )

    def _drop_before(self, sample: int) -> None:
        """Forget samples before `sample` (never any of the speech still going on)."""
        if self._speech_start is not None:
            sample = min(sample, self._speech_start - round(self.options.pad_s * SAMPLE_RATE))
        drop = min(self._buffer.shape[1], sample - self._buffer_start)
        if drop > 0:
            self._buffer = self._buffer[:, drop:]
            self._buffer_start += drop


def _dominance(span: np.ndarray, channel: int) -> float:
    """Median over the window's speech frames of its channel's level minus the loudest other's, in dB.

    The median, so that a stretch where both people talk at once does not count against
    the voice that owns the window, while the other voice picked up across the room
    (below the other channel in every frame) does.
    """
    if span.shape[0] < 2:
        return float("inf")
    n = span.shape[1] // DOMINANCE_FRAME
    frames = span[:, : n * DOMINANCE_FRAME].reshape(span.shape[0], n, DOMINANCE_FRAME)
    db = 10 * np.log10(np.einsum("cij,cij->ci", frames, frames, dtype=np.float64) + 1e-12)
    own, other = db[channel], np.delete(db, channel, axis=0).max(axis=0)
    speech = own >= own.max() - SPEECH_RANGE_DB
    return float(np.median(own[speech] - other[speech])) if n else float("inf")
