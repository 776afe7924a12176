"""Transcribe a recording of any length in bounded memory, a stretch at a time.

Whisper's feature extraction holds a spectrogram of everything it is given (for an
hour of speech, over 2 GB of intermediates), so a long recording is cut into
stretches of about CHUNK_S seconds, each cut placed in the quietest moment near its
mark so no word is split, and the words are shifted back to recording time.
Recordings shorter than one stretch are transcribed whole, exactly as before.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from trainer.schema import Transcript
from trainer.speech.audio import SAMPLE_RATE, Audio
from trainer.speech.transcribe import TranscribeOptions, transcribe, transcribe_channels

CHUNK_S = 600.0  # seconds transcribed at a time; memory grows with it, accuracy does not
SEARCH_S = 15.0  # a cut may move this far either way to land in a pause
QUIET_S = 0.5  # length of the pause a cut looks for
FRAME_S = 0.02  # energy frame length when looking for that pause


def _quietest(window: np.ndarray) -> int:
    """Offset (in samples) of the middle of the quietest QUIET_S stretch of a window."""
    hop = int(FRAME_S * SAMPLE_RATE)
    n = window.shape[-1] // hop
    energy = np.einsum("ij,ij->j", window[:, : n * hop], window[:, : n * hop], dtype=np.float64)
    frames = energy.reshape(n, hop).sum(axis=1)
    span = max(1, int(QUIET_S / FRAME_S))
    moving = np.convolve(frames, np.ones(span), mode="valid")
    return int(np.argmin(moving)) * hop + span * hop // 2


def cut_points(samples: np.ndarray, chunk_s: float = CHUNK_S) -> list[int]:
    """Sample indices that cut (channels, n) audio into stretches of about chunk_s, at pauses.

    The first is 0 and the last is n; audio no longer than one stretch (plus the
    search margin, SEARCH_S or a quarter stretch if less) is not cut.
    """
    n = samples.shape[-1]
    step, search = int(chunk_s * SAMPLE_RATE), int(min(SEARCH_S, chunk_s / 4) * SAMPLE_RATE)
    cuts = [0]
    while n - cuts[-1] > step + search:
        lo = cuts[-1] + step - search
        cuts.append(lo + _quietest(samples[:, lo : lo + 2 * search]))
    return cuts + [n]


def _shifted(transcript: Transcript, offset_s: float) -> Transcript:
    """The transcript of a stretch, its word times moved to where the stretch starts."""
    words = tuple(replace(w, start=w.start + offset_s, end=w.end + offset_s) for w in transcript.words)
    return replace(transcript, words=words)


def transcribe_recording(
    audio: Audio, method: str, options: TranscribeOptions = TranscribeOptions(), chunk_s: float = CHUNK_S
) -> Transcript:
    """Transcribe a whole recording: per channel for the "channel" method, else its mono mix.

    Only one stretch's mono mix and Whisper intermediates exist at a time.
    """
    cuts = cut_points(audio.samples, chunk_s)
    parts = []
    for start, end in zip(cuts, cuts[1:]):
        if method == "channel":
            left, right = audio.samples[0, start:end], audio.samples[1, start:end]
            part = transcribe_channels({"left": left, "right": right}, options)
        else:
            part = transcribe(Audio(audio.samples[:, start:end], audio.source).mono(), options)
        parts.append(_shifted(part, start / SAMPLE_RATE))
    heard = Counter(p.language for p in parts if p.words)
    return Transcript(
        words=tuple(w for p in parts for w in p.words),
        duration_s=audio.duration_s,
        language=heard.most_common(1)[0][0] if heard else parts[0].language,
        model=parts[0].model,
    )
