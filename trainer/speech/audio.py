"""Stage 1: decode a recording into 16 kHz float samples, one row per channel.

Decoding goes through PyAV (FFmpeg's libraries, installed with faster-whisper), so
every container a browser or phone produces (WAV, FLAC, MP3, M4A/AAC, OGG/Opus,
WEBM) is read the same way, at any sample rate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import AudioError

SAMPLE_RATE = 16000  # Hz; what Whisper and the speaker encoder expect
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".webm", ".mp4")
MIN_DURATION_S = 1.0  # shorter clips cannot hold a judgeable exchange
# Channels whose difference is this far below their level carry the same signal.
SAME_SIGNAL_DB = -30.0
# Decoded frames are gathered into blocks of this length, so a long recording is held
# once, not as many small pieces plus their concatenation. Blocks this large (over
# glibc's 32 MB mmap threshold) go back to the system as soon as they are freed.
BLOCK_S = 600.0
# Longest recording scored: a few kilobytes of compressed silence can decode to 12 hours
# and gigabytes, so length is checked from the container's header before decoding and
# again while decoding (a header may not say, or may lie).
MAX_HOURS = 4.0
MAX_HOURS_ENV = "TRAINER_MAX_HOURS"
MAX_HOURS_LIMIT = 1000.0  # the largest limit that may be set

log = logging.getLogger("trainer")


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio: `samples` has shape (channels, n) at SAMPLE_RATE."""

    samples: np.ndarray  # float32 in -1..1, shape (channels, n)
    source: str  # the path it came from
    name: str = ""  # what messages call it, when not its path (an upload's own file name)

    @property
    def label(self) -> str:
        """The recording as messages name it."""
        return self.name or self.source

    @property
    def channels(self) -> int:
        """Number of channels kept (1 or 2)."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.samples.shape[1] / SAMPLE_RATE

    def mono(self) -> np.ndarray:
        """Channel average, the signal a single microphone would have given."""
        if self.channels == 1:
            return self.samples[0]
        return self.samples.mean(axis=0, dtype=np.float32)

    def channels_differ(self) -> bool:
        """Whether the two channels carry different signals (one voice per channel)."""
        if self.channels < 2:
            return False
        left, right = self.samples[0], self.samples[1]
        # Sums of products in float64 without whole-recording temporaries (2 h: 0.5 GB each).
        ll, rr, lr = (
            np.einsum("i,i->", a, b, dtype=np.float64) for a, b in ((left, left), (right, right), (left, right))
        )
        level = (ll + rr) / 2
        if level == 0.0:
            return False
        diff = max(ll - 2 * lr + rr, 0.0)
        return 10 * np.log10(max(diff, 1e-20) / level) > SAME_SIGNAL_DB


# Silero VAD's speech probability from which audio counts as speech, for transcription and
# diarization alike: on the AMI excerpts 0.3 hears 79% of the reference speech and 0.4 75%
# (1.2 s more false alarm in 300 s); faster-whisper's own 0.5 left far-field voices unheard.
VAD_THRESHOLD = 0.3
QUIET_PEAK = 0.1  # recordings whose loud end is below this (-20 dBFS) are raised to it...
MAX_GAIN = 100.0  # ...by at most this much (40 dB): Silero misses most speech peaking at -50 dBFS
LEVEL_STRIDE = 16  # every 16th sample is plenty to find the loud end, and copies 1/16 of a long file


def raised_if_quiet(samples: np.ndarray) -> np.ndarray:
    """The signal raised to QUIET_PEAK if its loud end (99.9th percentile) is below it.

    A laptop microphone far from the speakers records quietly, and Silero VAD (used before
    both Whisper and the speaker encoder) hears under half of jfk.flac 50 dB down and
    nothing 60 dB down. Whisper and CAM++ judge the raised signal as they would a loud one.
    """
    loud = float(np.quantile(np.abs(samples[::LEVEL_STRIDE]), 0.999)) if len(samples) else 0.0
    if loud <= 0.0 or loud >= QUIET_PEAK:
        return samples
    return np.clip(samples * min(MAX_GAIN, QUIET_PEAK / loud), -1.0, 1.0).astype(np.float32)


def _deinterleave(frames: list[np.ndarray], n_channels: int) -> np.ndarray:
    """Packed float frames, each (1, n * channels) interleaved, as one (channels, n) block."""
    if not frames:
        return np.zeros((n_channels, 0), dtype=np.float32)
    return np.concatenate([f.reshape(-1) for f in frames]).reshape(-1, n_channels).T.copy()


def _join(blocks: list[np.ndarray]) -> np.ndarray:
    """Blocks side by side, each freed once copied, so the audio is never held twice."""
    samples = np.empty((blocks[0].shape[0], sum(b.shape[1] for b in blocks)), dtype=np.float32)
    at = 0
    blocks.reverse()
    while blocks:
        block = blocks.pop()
        samples[:, at : at + block.shape[1]] = block
        at += block.shape[1]
    return samples


def _limit_text(max_hours: float) -> str:
    return f"the {max_hours:g} h limit (--max-hours or {MAX_HOURS_ENV})"


def declared_hours(container: Any, stream: Any) -> float | None:
    """The length a container's header declares, in hours, if it declares one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base) / 3600
    if container.duration is not None:
        return container.duration / 1e6 / 3600  # in FFmpeg's AV_TIME_BASE (microseconds)
    return None


def load_audio(path: str | Path, max_hours: float = MAX_HOURS, name: str = "") -> Audio:
    """Decode an audio file to 16 kHz float32, keeping up to two channels.

    `name` is what errors, and later stages' errors, call the file when not its path.

    Raises:
        AudioError: the file is missing, empty, not audio, longer than `max_hours`,
            or truncated beyond use.
    """
    import av  # installed with faster-whisper; imported here to keep start-up light

    path = Path(path)
    label = name or str(path)
    if not path.is_file():
        raise AudioError(f"{label}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{label}: file is empty")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{label}: contains no audio stream")
            stream = container.streams.audio[0]
            hours = declared_hours(container, stream)
            if hours is not None and hours > max_hours:
                raise AudioError(f"{label}: the recording is {hours:.1f} h long, over {_limit_text(max_hours)}")
            max_samples = max_hours * 3600 * SAMPLE_RATE
            layout = "stereo" if (stream.channels or 1) >= 2 else "mono"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
            n_channels = 2 if layout == "stereo" else 1
            blocks, chunks, pending, decoded = [], [], 0, 0
            try:
                for frame in container.decode(stream):
                    frame.pts = None
                    for r in resampler.resample(frame):
                        chunks.append(r.to_ndarray())
                        pending += r.samples
                        decoded += r.samples
                    if decoded > max_samples:
                        raise AudioError(f"{label}: the recording runs past {_limit_text(max_hours)}")
                    if pending >= BLOCK_S * SAMPLE_RATE:
                        blocks.append(_deinterleave(chunks, n_channels))
                        chunks, pending = [], 0
            except av.error.InvalidDataError as e:
                # A truncated file still yields what was decoded before the damage.
                log.warning("%s: decoding stopped early (%s)", label, e)
            chunks.extend(r.to_ndarray() for r in resampler.resample(None))
            blocks.append(_deinterleave(chunks, n_channels))
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or "not audio, or damaged"
        raise AudioError(f"{label}: not a readable audio file ({reason[:1].lower()}{reason[1:]})") from e
    samples = _join(blocks)
    if not samples.size:
        raise AudioError(f"{label}: no audio could be decoded")
    audio = Audio(samples=samples, source=str(path), name=name)
    if audio.channels == 2 and not audio.channels_differ():
        # One microphone saved as stereo: every later stage uses only the mix, so keep it
        # alone (2 hours: 0.46 GB, instead of 0.92 GB of channels plus the mix made later).
        audio = Audio(samples=audio.mono()[None, :], source=str(path), name=name)
    if audio.duration_s < MIN_DURATION_S:
        raise AudioError(f"{label}: too short to judge ({audio.duration_s:.1f} s)")
    return audio
