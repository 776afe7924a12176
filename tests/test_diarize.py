"""Diarization of single-microphone recordings, on real speech mixed to mono."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import SAMPLES, TEST_DATA, normalise
from trainer.diarize import (
    MIN_VOICE_S,
    attribute_mono,
    cluster_voices,
    cut_at_word_gaps,
    diarize,
    heard_as_words,
    mel_spectrogram,
    speech_frames,
    speech_pieces,
)
from trainer.errors import SpeakerError
from trainer.pipeline import PipelineOptions, run_session
from trainer.schema import Role, Transcript, Word
from trainer.speakers import FRAME_S, SpeakerOptions
from trainer.speech.audio import SAMPLE_RATE, Audio, load_audio
from trainer.training.reference import compare, reference_path

GAP = np.zeros(SAMPLE_RATE, dtype=np.float32)


@pytest.fixture(scope="module")
def channels() -> tuple[np.ndarray, np.ndarray]:
    """The two real speakers of stereo_diarization.wav, one signal each."""
    samples = load_audio(TEST_DATA / "stereo_diarization.wav").samples
    return samples[0], samples[1]


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return load_audio(TEST_DATA / "jfk.flac").mono()


def truth_frames(parts: list[tuple[str | None, np.ndarray]]) -> list[str | None]:
    """Who speaks in each frame of the parts laid end to end (None: a gap or silence)."""
    labels: list[str | None] = []
    for name, samples in parts:
        labels.extend(name if speaking else None for speaking in speech_frames(samples))
    return labels


def agreement(turns, truth: list[str | None]) -> float:
    """Share of true speech frames whose turn maps to the true speaker (each label to its commonest)."""
    predicted = np.full(len(truth), None, dtype=object)
    for t in turns:
        predicted[int(t.start / FRAME_S) : int(t.end / FRAME_S)] = t.speaker
    spoken = [(p, s) for p, s in zip(predicted, truth) if s is not None]
    best: dict[str, str] = {}
    for (label, speaker), _ in Counter(spoken).most_common():
        if label is not None:
            best.setdefault(label, speaker)
    return sum(best.get(p) == s for p, s in spoken) / len(spoken)


def test_mel_features_match_what_the_encoder_was_trained_on(jfk):
    from resemblyzer.audio import wav_to_mel_spectrogram  # librosa: the slow reference

    ours = mel_spectrogram(jfk)
    theirs = wav_to_mel_spectrogram(jfk)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-5 * theirs.max()


def test_speech_pieces_cut_at_pauses_and_split_long_speech_evenly():
    speech = np.zeros(400, dtype=bool)
    speech[10:200] = True  # 3.8 s: three pieces of about 1.27 s
    speech[205:240] = True  # after a 0.1 s pause: the same stretch
    speech[300:305] = True  # 0.1 s: a click
    speech[350:380] = True  # after a long pause: its own piece
    pieces = speech_pieces(speech)
    assert pieces[0][0] == 10 and pieces[-1] == (350, 380)
    assert all((end - start) * FRAME_S <= 1.6 for start, end in pieces)
    assert (300, 305) not in pieces and len(pieces) == 4


def test_a_pause_between_words_cuts_speech_the_vad_bridged():
    speech = np.ones(100, dtype=bool)
    words = [Word(0.1, 0.5, "Okay."), Word(0.9, 1.2, "Are"), Word(1.25, 1.5, "you")]
    cut = cut_at_word_gaps(speech, words)
    assert not cut[int(0.7 / FRAME_S)]
    assert cut[int(0.3 / FRAME_S)] and cut[int(1.0 / FRAME_S)] and cut[int(1.22 / FRAME_S)]


def test_pieces_without_words_are_found():
    pieces = [(0, 50), (60, 100), (120, 150)]
    words = [Word(0.1, 0.3, "so"), Word(1.1, 1.2, "yes"), Word(1.5, 1.9, "no")]
    assert heard_as_words(pieces, words).tolist() == [True, True, False]


def voices(centres: list[np.ndarray], per_voice: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings scattered around given voices, one second each."""
    rng = np.random.default_rng(seed)
    points = np.concatenate([c + 0.15 * rng.standard_normal((n, c.size)) for c, n in zip(centres, per_voice)])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points, np.ones(len(points))


@pytest.fixture
def centres() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [np.abs(rng.standard_normal(32)) * (rng.random(32) > 0.5) for _ in range(3)]


def test_clusters_follow_the_voices(centres):
    assert len(cluster_voices(*voices(centres[:2], [20, 20]), expected=2)) == 2
    assert len(cluster_voices(*voices(centres[:1], [40]), expected=2)) == 1
    assert len(cluster_voices(*voices(centres, [20, 20, 20]), expected=2)) == 3
    brief = int(MIN_VOICE_S) - 1  # an extra voice heard too briefly is not reported
    assert len(cluster_voices(*voices(centres, [20, 20, brief]), expected=2)) == 2


def test_two_real_speakers_taking_turns_are_told_apart(channels):
    left, right = channels
    cut = int(2.6 * SAMPLE_RATE)  # the left speaker's pause after "wizard,"
    parts = [("left", left[:cut]), (None, GAP), ("right", right), (None, GAP), ("left", left[cut:])]
    turns = diarize(np.concatenate([p for _, p in parts]), words=())
    assert {t.speaker for t in turns} == {"S0", "S1"}
    assert turns[0].speaker == "S0"
    assert agreement(turns, truth_frames(parts)) >= 0.95


def test_one_voice_is_not_split_and_says_so(jfk):
    transcript = Transcript((), len(jfk) / SAMPLE_RATE)
    attribution = attribute_mono(Audio(jfk[None, :], "jfk"), transcript, SpeakerOptions())
    assert attribution.n_speakers == 1
    assert attribution.roles == (("S0", Role.COUNSELLOR),)
    assert attribution.role_confidence == 0.5
    assert "only 1 voice" in attribution.warnings[0]


def test_three_voices_do_not_crash_and_are_reported(jfk, channels):
    left, right = channels
    mono = np.concatenate([jfk, GAP, left, GAP, right, GAP, left, GAP, right])
    transcript = Transcript((), len(mono) / SAMPLE_RATE)
    attribution = attribute_mono(Audio(mono[None, :], "three"), transcript, SpeakerOptions())
    assert attribution.n_speakers == 3
    assert sum(role is Role.COUNSELLOR for _, role in attribution.roles) == 1
    assert "3 voices found" in attribution.warnings[0]


def test_silence_is_refused():
    silence = Audio(np.zeros((1, 5 * SAMPLE_RATE), dtype=np.float32), "silence.wav")
    with pytest.raises(SpeakerError, match="silence.wav: no speech"):
        attribute_mono(silence, Transcript((), 5.0), SpeakerOptions())


def test_real_mix_scored_end_to_end(tmp_path, channels):
    """Left speaker, a pause, the right speaker: every word lands on its own speaker."""
    left, right = channels
    path = tmp_path / "mix.wav"
    sf.write(path, np.concatenate([left, GAP, right]), SAMPLE_RATE)
    session = run_session(path)
    assert session.speakers.method == "diarization" and session.speakers.n_speakers == 2
    by_time = sorted(session.utterances, key=lambda c: c.utterance.start)
    split = len(left) / SAMPLE_RATE + 0.5
    assert all(c.utterance.end <= split for c in by_time[:-1]) and by_time[-1].utterance.start >= split
    assert len({c.speaker for c in by_time}) == 2
    assert normalise(by_time[-1].text) == "the horizon seems extremely distant"
    assert session.talk.overlap_s == 0.0


MONO_SAMPLE = SAMPLES / "weak_mono.flac"


@pytest.mark.skipif(not MONO_SAMPLE.is_file(), reason="sample_audio/weak_mono.flac not generated yet")
def test_mono_sample_matches_its_reference():
    session = run_session(MONO_SAMPLE, PipelineOptions())
    result = compare(session, reference_path(MONO_SAMPLE))
    assert session.speakers.method == "diarization"
    assert result.attributed_share >= 0.95
    assert result.talk_share_error <= 0.03
    assert session.speakers.role_confidence >= 0.9
