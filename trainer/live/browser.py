"""The browser's microphone, as WebRTC frames reach the server: saved to disk and heard live.

streamlit-webrtc hands each decoded audio frame (PyAV, 16-bit, usually 48 kHz) to a
callback on its own thread. Every frame is written to a WAV file at once, so the whole
role play is on disk whatever the live path does, and is then fed to a LiveSession.
A browser's microphone is one device: its channels are mixed to mono, and roles come
from voices (trainer.live.roles).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from trainer.live.session import LiveOptions, LiveSession
from trainer.live.stats import LiveStats

SUBTYPE = "PCM_16"  # as `trainer record` writes


class BrowserRecording:
    """One live take from the browser: a WAV file growing under `folder` and its live figures."""

    def __init__(self, folder: Path, options: LiveOptions = LiveOptions()) -> None:
        """Nothing is opened until the first frame arrives."""
        self.folder, self.options = Path(folder), options
        self.path: Path | None = None
        self.session: LiveSession | None = None
        self._wav: Any = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """Whether any audio has arrived."""
        return self._wav is not None

    def on_frame(self, frame: Any) -> Any:
        """streamlit-webrtc's audio callback: keep the frame, return it unchanged."""
        samples = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
        if samples.dtype == np.int16:
            samples = samples.astype(np.float32) / 32768.0
        mono = samples.mean(axis=1, dtype=np.float32)[:, None]
        with self._lock:
            if self._wav is None:
                self._open(int(frame.sample_rate))
            self._wav.write(mono)
        self.session.feed(mono)
        return frame

    def snapshot(self) -> LiveStats | None:
        """The running figures, once audio has arrived."""
        return self.session.snapshot() if self.session is not None else None

    def stop(self) -> Path | None:
        """Close the file and stop listening; the path of the recording, or None if nothing came."""
        with self._lock:
            if self._wav is None:
                return None
            self._wav.close()
        self.session.finish(wait=False)  # the recording is scored in full next
        return self.path

    def _open(self, samplerate: int) -> None:
        import soundfile

        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"live-{uuid.uuid4().hex}.wav"
        self._wav = soundfile.SoundFile(self.path, "w", samplerate, 1, SUBTYPE)
        self.session = LiveSession(samplerate, 1, self.options)
