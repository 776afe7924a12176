"""How far speech stands above the room's noise, and the warning for noisy recordings (real speech)."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tests.conftest import TEST_DATA, with_hiss
from trainer.scoring import checks
from trainer.speech import level
from trainer.speech.audio import SAMPLE_RATE, Audio, load_audio
from trainer.speech.level import LevelMeter, speech_over_background_db


def hissed(samples: np.ndarray, below_db: float) -> Audio:
    """A mono recording of the samples with white noise `below_db` under their level."""
    return Audio(with_hiss(samples, below_db)[None, :], source="")


def noisy_warnings(audio: Audio) -> list[str]:
    return [w for w in checks.check_audio(audio, speech_over_background_db(audio)) if w.startswith("noisy recording")]


def test_real_recordings_stand_well_above_their_background():
    for path in (TEST_DATA / "ami" / "trn09.flac", TEST_DATA / "ami" / "trn06.flac"):
        audio = load_audio(path)
        assert speech_over_background_db(audio) > level.NOISY_DB + 5, path.name
        assert noisy_warnings(audio) == [], path.name


def test_more_noise_measures_lower_and_heavy_noise_is_named():
    samples = load_audio(TEST_DATA / "ami" / "trn09.flac").mono()
    gaps = [speech_over_background_db(hissed(samples, db)) for db in (30, 20, 10)]
    assert gaps[0] > gaps[1] > gaps[2]
    (warning,) = noisy_warnings(hissed(samples, 10))
    assert f"speech only {gaps[2]:.0f} dB above the background" in warning
    assert "\n" not in warning


def test_silence_has_no_level_to_judge():
    silent = Audio(np.zeros((1, 5 * SAMPLE_RATE), np.float32), source="")
    assert speech_over_background_db(silent) is None
    assert noisy_warnings(silent) == []


def test_a_stream_fed_in_blocks_measures_what_the_whole_mix_does(monkeypatch):
    samples = load_audio(TEST_DATA / "ami" / "trn06.flac").mono()
    whole = speech_over_background_db(Audio(samples[None, :], source=""))
    monkeypatch.setattr(level, "CHUNK_S", 0.7)  # many chunks, none a whole number of frames
    assert speech_over_background_db(Audio(samples[None, :], source="")) == whole
    live = LevelMeter()
    for block in np.array_split(samples, 301):  # blocks of odd sizes, as a microphone sends them
        live.add(block)
    assert live.speech_over_background_db() == whole
    # The same as percentiles of the frame levels computed directly, to the meter's 0.1-dB bins.
    frames = samples[: len(samples) // level.FRAME * level.FRAME].reshape(-1, level.FRAME)
    levels = 10 * np.log10(np.square(frames, dtype=np.float64).mean(axis=1) + 1e-12)
    direct = np.percentile(levels, 95, method="inverted_cdf") - np.percentile(levels, 10, method="inverted_cdf")
    assert abs(whole - direct) < 0.11


def test_a_clip_too_short_to_hold_pauses_is_not_judged():
    stereo, _ = sf.read(TEST_DATA / "stereo_diarization.wav", dtype="float32")  # 5 s, speech throughout
    audio = Audio(np.ascontiguousarray(stereo.T), source="")
    assert speech_over_background_db(audio) is None
    assert noisy_warnings(audio) == []
    assert speech_over_background_db(load_audio(TEST_DATA / "jfk.flac")) is None  # 11 s
