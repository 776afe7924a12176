"""Record a practice session from the microphone into an audio file.

For trainees without a browser: `trainer record --out session.wav`. Audio arrives in
blocks on PortAudio's thread (through `sounddevice`); this module queues them, writes
them to the file on the caller's thread and reports the level of each block, so a
caller can draw a meter. Recording stops when the caller's `stop` event is set, when
Ctrl-C is pressed, or after an optional maximum length.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trainer.errors import RecordingError

BLOCK_S = 0.1  # how often the level is reported and blocks are written
FLOOR_DB = -60.0  # level shown for silence; quieter blocks read as this
METER_WIDTH = 30  # characters of the level bar

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class RecordOptions:
    """How to record."""

    channels: int = 1  # 2 for an interface with one microphone per speaker (scored by channel)
    samplerate: int | None = None  # None: the device's own rate; scoring resamples anyway
    max_s: float | None = None  # stop by itself after this many seconds; None: only on request
    subtype: str = "PCM_16"  # sample format in the file; 16-bit is what speech recognisers need


@dataclass(frozen=True)
class Recording:
    """What was recorded."""

    path: Path
    duration_s: float
    samplerate: int
    channels: int


class InputStream(Protocol):
    """The part of `sounddevice.InputStream` that recording uses."""

    samplerate: float

    def stop(self) -> None: ...

    def close(self) -> None: ...


class StreamOpener(Protocol):
    """Opens and starts an input stream that passes each block to `callback`."""

    def __call__(self, *, samplerate: int | None, channels: int, callback: Callable[..., None]) -> InputStream: ...


def open_microphone(*, samplerate: int | None, channels: int, callback: Callable[..., None]) -> InputStream:
    """Start recording from the default input device with sounddevice.

    Raises:
        RecordingError: PortAudio is missing, or there is no usable input device.
    """
    try:
        import sounddevice as sd
    except (ImportError, OSError) as e:  # sounddevice raises OSError when the PortAudio library is absent
        raise RecordingError(
            "recording needs PortAudio: install libportaudio2 (Debian/Ubuntu) or portaudio (Homebrew)"
        ) from e
    try:
        stream = sd.InputStream(samplerate=samplerate, channels=channels, dtype="float32", callback=callback)
        stream.start()
    except (sd.PortAudioError, ValueError) as e:
        raise RecordingError(f"no microphone to record from ({e}); connect one or check its permissions") from e
    return stream


def level_db(block: np.ndarray) -> float:
    """Loudness of a block in dB relative to full scale (RMS), never below FLOOR_DB."""
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if block.size else 0.0
    return max(FLOOR_DB, 20 * np.log10(rms)) if rms > 0 else FLOOR_DB


def meter(level: float, elapsed_s: float) -> str:
    """One line for a terminal: a level bar, the level in dB and the time recorded so far."""
    filled = round(METER_WIDTH * (level - FLOOR_DB) / -FLOOR_DB)
    minutes, seconds = divmod(int(elapsed_s), 60)
    return f"[{'#' * filled}{'-' * (METER_WIDTH - filled)}] {level:5.0f} dB  {minutes:02d}:{seconds:02d}"


def record(
    out: str | Path,
    stop: threading.Event,
    options: RecordOptions = RecordOptions(),
    on_level: Callable[[float, float], None] | None = None,
    open_stream: StreamOpener | None = None,
    on_block: Callable[[np.ndarray], None] | None = None,
) -> Recording:
    """Record until `stop` is set, Ctrl-C is pressed or `options.max_s` has passed.

    Ctrl-C ends the recording, not the program: what was heard is kept.

    Args:
        out: file to write; the format follows its extension (.wav, .flac, .ogg).
        stop: set it (from any thread) to end the recording.
        options: channels, sample rate and length.
        on_level: called about every BLOCK_S with (level in dB, seconds recorded).
        open_stream: where the audio comes from; None for `open_microphone`.
        on_block: given each (frames, channels) block once it is in the file (live feedback).

    Raises:
        RecordingError: no microphone, or the file cannot be written.
    """
    import soundfile

    out = Path(out)
    blocks: queue.Queue[np.ndarray] = queue.Queue()

    def callback(indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status:  # e.g. input overflow: the machine was too busy and a block was lost
            log.warning("recording: %s", status)
        blocks.put(indata.copy())

    opener = open_stream or open_microphone
    stream = opener(samplerate=options.samplerate, channels=options.channels, callback=callback)
    samplerate = int(stream.samplerate)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        wav = soundfile.SoundFile(out, "w", samplerate, options.channels, options.subtype)
    except (OSError, RuntimeError, TypeError, ValueError) as e:  # soundfile's errors for paths and formats
        stream.close()
        raise RecordingError(f"{out}: cannot write the recording ({e})") from e
    limit = None if options.max_s is None else round(options.max_s * samplerate)
    with wav:
        try:
            while not stop.is_set() and (limit is None or wav.frames < limit):
                latest = _write_pending(blocks, wav, BLOCK_S, limit, on_block)
                if latest is not None and on_level is not None:
                    on_level(level_db(latest), wav.frames / samplerate)
        except KeyboardInterrupt:
            log.info("recording stopped with Ctrl-C")
        finally:
            stream.stop()
            stream.close()
        _write_pending(blocks, wav, 0, limit, on_block)
        frames = wav.frames
    return Recording(out, frames / samplerate, samplerate, options.channels)


def _write_pending(
    blocks: queue.Queue[np.ndarray],
    wav: Any,
    timeout: float,
    limit: int | None,
    on_block: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray | None:
    """Write queued blocks, up to `limit` frames in the file, waiting up to `timeout` for the first.

    Returns:
        The last block taken, for the level meter; None if none came.
    """
    latest = None
    try:
        block = blocks.get(timeout=timeout) if timeout else blocks.get_nowait()
        while True:
            kept = block if limit is None else block[: max(0, limit - wav.frames)]
            wav.write(kept)
            if on_block is not None:
                on_block(kept)
            latest = block
            block = blocks.get_nowait()
    except queue.Empty:
        return latest
