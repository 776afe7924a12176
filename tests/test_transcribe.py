"""Transcription with both backends on real clips, and the code around the models."""

import sys
from types import SimpleNamespace
from unittest.mock import MagicMock

import numpy as np
import pytest

from tests.conftest import JFK_TEXT, LEFT_TEXT, RIGHT_TEXT, TEST_DATA, normalise
from trainer.errors import ModelNotAvailable
from trainer.schema import Transcript, Word
from trainer.speech import transcribe as stage
from trainer.speech.audio import SAMPLE_RATE, VAD_THRESHOLD, load_audio
from trainer.speech.transcribe import TranscribeOptions, transcribe, transcribe_channels

# openai-whisper's torch threads thrash when the machine's cores are shared; one thread keeps tests quick.
OPENAI = TranscribeOptions(backend="openai-whisper", cpu_threads=1)


def text(transcript) -> str:
    return normalise(" ".join(w.text for w in transcript.words))


@pytest.fixture(scope="module")
def jfk():
    return load_audio(TEST_DATA / "jfk.flac").mono()


@pytest.fixture(scope="module")
def jfk_words(jfk):
    return transcribe(jfk)


def test_tiny_en_transcribes_jfk_exactly(jfk_words):
    assert text(jfk_words) == normalise(JFK_TEXT)
    assert jfk_words.model == "tiny.en" and jfk_words.language == "en"
    starts = [w.start for w in jfk_words.words]
    assert starts == sorted(starts) and all(w.start <= w.end <= 11.0 for w in jfk_words.words)
    assert jfk_words.words[0].start < 1.0 and jfk_words.words[-1].end > 10.0


def test_each_stereo_channel_is_transcribed_with_its_speaker():
    stereo = load_audio(TEST_DATA / "stereo_diarization.wav")
    merged = transcribe_channels({"left": stereo.samples[0], "right": stereo.samples[1]})
    by_speaker = {
        side: SimpleNamespace(words=[w for w in merged.words if w.speaker == side]) for side in ("left", "right")
    }
    assert text(by_speaker["left"]) == normalise(LEFT_TEXT)
    assert text(by_speaker["right"]) == normalise(RIGHT_TEXT)
    assert [w.start for w in merged.words] == sorted(w.start for w in merged.words)


def test_base_transcribes_jfk_exactly(jfk):
    transcript = transcribe(jfk, TranscribeOptions(model="base"))
    assert text(transcript) == normalise(JFK_TEXT) and transcript.language == "en"


def test_openai_whisper_on_the_same_weights_gives_the_same_words_and_times(jfk, jfk_words):
    pytest.importorskip("whisper")
    transcript = transcribe(jfk, OPENAI)
    assert text(transcript) == normalise(JFK_TEXT)
    assert transcript.model == "openai-whisper:tiny.en"
    assert len(transcript.words) == len(jfk_words.words)
    for ours, theirs in zip(transcript.words, jfk_words.words):
        assert abs(ours.start - theirs.start) < 0.3 and abs(ours.end - theirs.end) < 0.3, (ours, theirs)


def fake_openai_model(monkeypatch, words):
    model = MagicMock()
    model.transcribe.return_value = {"language": "en", "segments": [{"words": words}]}
    monkeypatch.setattr(stage, "load_openai_model", lambda name: model)
    return model


def test_openai_whisper_hears_speech_only_and_times_map_back(monkeypatch, jfk):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    padded = np.concatenate([np.zeros(3 * SAMPLE_RATE, np.float32), jfk])
    model = fake_openai_model(monkeypatch, [{"word": " And", "start": 0.0, "end": 0.5, "probability": 0.9}])
    transcript = transcribe(padded, OPENAI, speaker="left")
    heard = model.transcribe.call_args.args[0]
    assert len(heard) < len(padded) - 2 * SAMPLE_RATE  # the leading silence was cut
    (word,) = transcript.words
    assert 2.4 <= word.start <= 3.0 and word.end == pytest.approx(word.start + 0.5, abs=0.01)
    assert word.text == "And" and word.speaker == "left" and transcript.duration_s == len(padded) / SAMPLE_RATE
    assert torch.get_num_threads() == threads  # the process-wide setting is put back


def test_silence_gives_no_words_without_decoding(monkeypatch):
    pytest.importorskip("torch")
    model = fake_openai_model(monkeypatch, [])
    transcript = transcribe(np.zeros(2 * SAMPLE_RATE, np.float32), OPENAI)
    assert transcript.words == () and not model.transcribe.called


def test_hotwords_and_prompt_reach_both_decoders(monkeypatch):
    pytest.importorskip("torch")
    faster = MagicMock()
    faster.transcribe.return_value = ([], SimpleNamespace(language="en"))
    monkeypatch.setattr(stage, "load_model", lambda *args: faster)
    openai = fake_openai_model(monkeypatch, [])
    options = dict(initial_prompt="Counselling session.", hotwords="Naltrexone Aoife", vad_filter=False)
    transcribe(np.zeros(SAMPLE_RATE, np.float32), TranscribeOptions(**options))
    assert faster.transcribe.call_args.kwargs["hotwords"] == "Naltrexone Aoife"
    assert faster.transcribe.call_args.kwargs["initial_prompt"] == "Counselling session."
    transcribe(np.zeros(SAMPLE_RATE, np.float32), TranscribeOptions(backend="openai-whisper", **options))
    assert openai.transcribe.call_args.kwargs["initial_prompt"] == "Naltrexone Aoife Counselling session."


def test_unknown_backend_and_model_are_refused():
    with pytest.raises(ModelNotAvailable, match="unknown backend 'whisper.cpp'"):
        transcribe(np.zeros(SAMPLE_RATE, np.float32), TranscribeOptions(backend="whisper.cpp"))
    with pytest.raises(ModelNotAvailable, match="unknown model 'large-v9'.*tiny.en"):
        transcribe(np.zeros(SAMPLE_RATE, np.float32), TranscribeOptions(model="large-v9"))


def test_missing_openai_whisper_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "whisper", None)
    stage.load_openai_model.cache_clear()
    try:
        with pytest.raises(ModelNotAvailable, match="pip install --no-deps"):
            stage.load_openai_model("tiny.en")
    finally:
        stage.load_openai_model.cache_clear()


def test_a_damaged_checkpoint_is_reported_as_unavailable(tmp_path):
    pytest.importorskip("whisper")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelNotAvailable, match="could not be loaded"):
        stage.load_openai_model(str(damaged))


@pytest.mark.parametrize("db_down", [50, 60])
def test_a_quiet_recording_is_transcribed_as_a_loud_one(jfk, jfk_words, db_down):
    """Far from the microphone: Silero VAD before Whisper heard 10 of 22 words 50 dB down, none 60 dB down."""
    quiet = (jfk * 10 ** (-db_down / 20)).astype(np.float32)
    transcript = transcribe(quiet)
    assert text(transcript) == text(jfk_words)
    assert [w.start for w in transcript.words] == pytest.approx([w.start for w in jfk_words.words], abs=0.3)


def test_speech_is_heard_from_the_shared_vad_threshold(monkeypatch, jfk):
    """Both decoders hear speech from the probability diarization uses, which hears a faint
    second voice (a far-field client) better than faster-whisper's own 0.5."""
    pytest.importorskip("torch")
    assert TranscribeOptions().vad_threshold == VAD_THRESHOLD < 0.5
    faster = MagicMock()
    faster.transcribe.return_value = ([], SimpleNamespace(language="en"))
    monkeypatch.setattr(stage, "load_model", lambda *args: faster)
    transcribe(jfk, TranscribeOptions())
    assert faster.transcribe.call_args.kwargs["vad_parameters"] == {"threshold": VAD_THRESHOLD}
    openai = fake_openai_model(monkeypatch, [])
    faint = np.concatenate([jfk, np.zeros(3 * SAMPLE_RATE, np.float32), jfk * 10 ** (-45 / 20)])
    heard = []
    for threshold in (VAD_THRESHOLD, 0.5):
        transcribe(faint, TranscribeOptions(backend="openai-whisper", vad_threshold=threshold))
        heard.append(len(openai.transcribe.call_args.args[0]) / SAMPLE_RATE)
    assert heard[0] > heard[1] + 1.0  # measured 13.1 s against 10.9 s


def test_a_stereo_session_is_english_only_if_every_voice_is(monkeypatch):
    """One voice of a German role play heard as English must not make the session English."""
    heard = {"left": ("en", 13), "right": ("de", 12), "silent": ("fr", 0)}

    def fake(samples, options, speaker):
        language, n = heard[speaker]
        words = tuple(Word(float(i), i + 0.5, "wort", 0.9, speaker) for i in range(n))
        return Transcript(words, 30.0, language, "base")

    monkeypatch.setattr(stage, "transcribe", fake)
    silence = np.zeros(SAMPLE_RATE, np.float32)
    assert transcribe_channels(dict.fromkeys(heard, silence)).language == "de"
    assert transcribe_channels({"left": silence, "silent": silence}).language == "en"  # no words, no say


def test_the_same_audio_gives_the_same_words_every_time(monkeypatch, jfk):
    """jfk.flac three times over repeats itself enough that Whisper's default would retry its
    first window by sampling at higher temperatures, a different text from one run to the next."""
    three = np.concatenate([jfk, np.zeros(3 * SAMPLE_RATE, np.float32)] * 2 + [jfk])
    runs = {tuple((w.text, w.start, w.end) for w in transcribe(three).words) for _ in range(4)}
    assert len(runs) == 1
    assert normalise(" ".join(w for w, _, _ in runs.pop())) == " ".join([normalise(JFK_TEXT)] * 3)
    # Both decoders are told not to fall back to sampling.
    faster = MagicMock()
    faster.transcribe.return_value = ([], SimpleNamespace(language="en"))
    monkeypatch.setattr(stage, "load_model", lambda *args: faster)
    transcribe(jfk, TranscribeOptions())
    assert faster.transcribe.call_args.kwargs["temperature"] == 0.0
    openai = fake_openai_model(monkeypatch, [])
    transcribe(jfk, OPENAI)
    assert openai.transcribe.call_args.kwargs["temperature"] == 0.0
