"""Bounded memory for long recordings: block-wise decoding and transcription in stretches."""

from __future__ import annotations

import difflib

import numpy as np
import soundfile as sf

from tests.conftest import TEST_DATA, normalise
from trainer.speech import audio as audio_module
from trainer.speech.audio import SAMPLE_RATE, Audio, load_audio
from trainer.speech.longform import cut_points, transcribe_recording
from trainer.speech.transcribe import transcribe


def test_decoding_in_blocks_keeps_every_sample_in_its_channel(monkeypatch):
    path = TEST_DATA / "stereo_diarization.wav"  # 16 kHz: decoding must not alter a sample
    expected, _ = sf.read(path, dtype="float32")
    monkeypatch.setattr(audio_module, "BLOCK_S", 0.5)  # many blocks instead of one
    decoded = load_audio(path)
    assert decoded.samples.shape == expected.T.shape
    np.testing.assert_allclose(decoded.samples, expected.T, atol=1e-6)
    assert decoded.channels_differ()


def test_cuts_fall_in_the_pauses_near_each_mark():
    rng = np.random.default_rng(1)
    signal = (0.3 * rng.standard_normal((2, 100 * SAMPLE_RATE))).astype(np.float32)
    for pause_s in (38.0, 81.0):  # 2 s pauses near the 40 s and 80 s marks
        signal[:, int(pause_s * SAMPLE_RATE) : int((pause_s + 2) * SAMPLE_RATE)] = 0.0
    cuts = cut_points(signal, chunk_s=40.0)
    assert cuts[0] == 0 and cuts[-1] == signal.shape[1] and len(cuts) == 4
    assert 38.0 < cuts[1] / SAMPLE_RATE < 40.0
    assert 81.0 < cuts[2] / SAMPLE_RATE < 83.0
    assert cut_points(signal[:, : 45 * SAMPLE_RATE], chunk_s=40.0) == [0, 45 * SAMPLE_RATE]


def _matched_starts(a: list, b: list) -> tuple[np.ndarray, np.ndarray]:
    """Start times of the words two transcripts share, paired in order (a word or two may differ)."""
    tokens_a, tokens_b = ([normalise(w.text) for w in words] for words in (a, b))
    matcher = difflib.SequenceMatcher(a=tokens_a, b=tokens_b, autojunk=False)
    assert matcher.ratio() > 0.95, (tokens_a, tokens_b)
    pairs = [(i + k, j + k) for i, j, n in matcher.get_matching_blocks() for k in range(n)]
    return np.array([a[i].start for i, _ in pairs]), np.array([b[j].start for _, j in pairs])


def test_transcribing_in_stretches_matches_transcribing_whole():
    jfk = load_audio(TEST_DATA / "jfk.flac").mono()
    gap = np.zeros(3 * SAMPLE_RATE, np.float32)
    three = np.concatenate([jfk, gap, jfk, gap, jfk])  # 39 s
    whole = transcribe(three)
    stretched = transcribe_recording(Audio(three[None, :], "three.wav"), "diarization", chunk_s=12.0)
    # Whisper decoding 39 s at once and 13 s at a time may hear one word differently (int8 kernels
    # differ by CPU), so the two must agree word for word except for such a slip.
    whole_starts, stretched_starts = _matched_starts(whole.words, stretched.words)
    assert len(stretched_starts) >= 0.95 * len(whole.words)
    assert np.median(np.abs(stretched_starts - whole_starts)) < 0.1
    starts = np.array([w.start for w in stretched.words])
    assert np.all(np.diff(starts) >= 0)
    for copy_start in (0.0, 14.0, 28.0):  # each copy's first word is placed where the copy begins
        assert np.abs(starts - copy_start).min() < 0.5
    assert stretched.duration_s == len(three) / SAMPLE_RATE
