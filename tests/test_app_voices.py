"""The "My voice" page and the "which one is you?" question, on real voices through the app."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pyannote.metrics.diarization import DiarizationErrorRate
from streamlit.testing.v1 import AppTest

from tests.conftest import TEST_DATA
from tests.test_app import data_dir_env, scored, sign_in, texts  # noqa: F401 - data_dir_env: autouse fixture
from tests.test_diarize import hypothesis, truth
from trainer.app.voices import PROFILE_KEY, enrol_upload, profile_path
from trainer.batch.output import session_to_dict
from trainer.pipeline import run_session
from trainer.safe_text import markdown_text
from trainer.schema import SpeakerTurn
from trainer.speakers.enrol import profile_of_file
from trainer.speakers.roles import UNSURE_BELOW
from trainer.speech.audio import SAMPLE_RATE, load_audio

AMI = TEST_DATA / "ami"
SCORING_S = 600  # a real 30-s meeting through Whisper, diarization and the coder on a busy 2-core machine


def open_voice_page(name: str = "ann") -> AppTest:
    at = sign_in(name)
    at.radio(key="nav").set_value("My voice").run()
    assert at.title[0].value == "My voice"
    return at


def upload_voice(at: AppTest, filename: str, data: bytes) -> AppTest:
    at.radio(key="voice_source").set_value("Upload a file").run()
    at.file_uploader(key="voice_upload").upload(filename, data, "audio/flac").run()
    at.button(key="voice_save").click().run()
    assert not at.exception
    return at


def score_unsure(folder: Path) -> tuple[dict, bytes]:
    """A real two-voice recording whose roles, found from what each voice says, are unsure.

    The stereo clip's left speaker, a pause, then jfk, on one channel: scored for real
    (Whisper, diarization, the trained coder) with role confidence 0.57. Returns the scored
    document and the recording's bytes.
    """
    left = load_audio(TEST_DATA / "stereo_diarization.wav").samples[0]
    jfk = load_audio(TEST_DATA / "jfk.flac").mono()
    path = folder / "left_then_jfk.wav"
    sf.write(path, np.concatenate([left, np.zeros(SAMPLE_RATE, dtype=np.float32), jfk]), SAMPLE_RATE)
    document = session_to_dict(run_session(path))
    assert document["speakers"]["n_speakers"] == 2 and document["speakers"]["role_confidence"] < UNSURE_BELOW
    return document, path.read_bytes()


@pytest.fixture(scope="module")
def unsure(tmp_path_factory) -> tuple[dict, bytes]:
    """`score_unsure`, once for all tests here."""
    return score_unsure(tmp_path_factory.mktemp("unsure"))


@pytest.fixture
def unsure_session(store, people, unsure):
    """The unsure session, stored as ann's with its recording."""
    document, audio = unsure
    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes(audio)
    return store.add_session(people["ann"], "unsure.wav", document, "d" * 64, audio=incoming)


def counsellor_of(document: dict) -> str:
    return next(label for label, role in document["speakers"]["roles"].items() if role == "counsellor")


def test_a_voice_is_saved_replaced_and_deleted(store, people):
    at = open_voice_page()
    assert "No voice saved" in at.info[0].value and at.button(key="voice_save").disabled
    upload_voice(at, "me.flac", (TEST_DATA / "jfk.flac").read_bytes())
    assert not at.error and "Your voice is saved" in at.success[0].value
    path = profile_path(store, people["ann"])
    np.testing.assert_allclose(np.load(path), profile_of_file(TEST_DATA / "jfk.flac"), atol=1e-6)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert not profile_path(store, people["bob"]).exists()
    assert at.button(key="voice_save").label == "Replace my voice"
    upload_voice(at, "trn06.flac", (AMI / "trn06.flac").read_bytes())
    np.testing.assert_allclose(np.load(path), profile_of_file(AMI / "trn06.flac"), atol=1e-6)
    at.button(key="voice_delete").click().run()
    assert not path.exists() and "No voice saved" in at.info[0].value
    assert not list(store.incoming_dir.iterdir())  # the uploads waited there and are gone


def test_too_little_speech_or_an_unreadable_file_is_one_line_and_keeps_the_old_voice(store, people, tmp_path):
    silence = tmp_path / "quiet.wav"
    sf.write(silence, np.zeros(5 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    at = open_voice_page()
    at.audio_input(key="voice_record").upload("audio.wav", silence.read_bytes()).run()
    at.button(key="voice_save").click().run()
    assert [e.value for e in at.error] == [
        markdown_text("your recording.wav: only 0.0 s of speech; record about 20 s of your voice")
    ]
    assert not profile_path(store, people["ann"]).exists() and "No voice saved" in at.info[0].value

    upload_voice(at, "me.flac", (TEST_DATA / "jfk.flac").read_bytes())
    saved = profile_path(store, people["ann"]).read_bytes()
    upload_voice(at, "notes.flac", b"not a recording at all" * 20)
    assert [e.value for e in at.error] == [markdown_text("notes.flac: no audio could be decoded")]
    assert profile_path(store, people["ann"]).read_bytes() == saved and "Your voice is saved" in at.success[0].value
    assert not list(store.incoming_dir.iterdir())


def test_instructors_have_no_voice_page(people):
    at = sign_in("ivy")
    assert "My voice" not in at.radio(key="nav").options


def test_rescoring_uses_the_owners_voice(store, people, transcript_csv, monkeypatch):
    """What the pipeline is given; the voice itself is matched in the end-to-end test below."""
    given = []

    def fake(path, options, hook, name):
        given.append(options.speakers.counsellor_voice)
        return run_session(transcript_csv, options, hook, name=name)

    monkeypatch.setattr("trainer.app.intake.run_session", fake)
    from trainer.app.intake import rescore

    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes((TEST_DATA / "jfk.flac").read_bytes())
    stored = store.add_session(people["ann"], "t.wav", session_to_dict(run_session(transcript_csv)), "e" * 64, incoming)
    rescore(store, people["ivy"], stored.id)
    profile_path(store, people["ann"]).parent.mkdir()
    np.save(profile_path(store, people["ann"]), np.ones(192, dtype=np.float32))
    after = rescore(store, people["ivy"], stored.id)
    assert given == [None, str(profile_path(store, people["ann"]))]
    assert PROFILE_KEY not in (after.document["speakers"] or {})  # a transcript's roles need no voice


def test_an_unsure_session_asks_which_voice_is_yours_and_recodes(unsure_session, store, people):
    before = unsure_session.document
    first = counsellor_of(before)
    at = sign_in("ann", session=unsure_session.id)
    assert not at.exception and "Which one is you?" in texts(at)
    assert len(at.get("audio")) == 3  # two voices' clips, and the whole recording in the sidebar
    # One microphone: the talk-time card carries its likely range beside the guide.
    assert any(c.value.startswith("likely ") and "guide: at most 50%" in c.value for c in at.caption)
    other = next(label for label in before["speakers"]["roles"] if label != first)
    at.button(key=f"pick-{other}").click().run()
    assert not at.exception and not at.error

    after = store.session(people["ann"], unsure_session.id).document
    assert counsellor_of(after) == other and after["speakers"]["role_confidence"] == 1.0
    assert [u["text"] for u in after["utterances"]] == [u["text"] for u in before["utterances"]]
    for old, new in zip(before["utterances"], after["utterances"]):
        assert old["speaker"] != new["speaker"]
        assert (new["code"] is None) == (new["speaker"] == "client")  # only the counsellor's turns are coded
    assert after["metrics"] != before["metrics"]
    talk = after["metrics"]["intervals"]["counsellor_talk_share"]  # the exchanged share keeps its range
    assert talk["low"] <= after["metrics"]["counsellor_talk_share"] <= talk["high"]
    assert "Which one is you?" not in texts(at)  # decided: not asked again


def test_an_instructor_confirms_the_counsellor_in_review(unsure_session, store, people):
    before = unsure_session.document
    at = sign_in("ivy", session=unsure_session.id)
    assert "Which voice is the counsellor's?" in texts(at)
    at.button(key=f"pick-{counsellor_of(before)}").click().run()
    after = store.session(people["ivy"], unsure_session.id).document
    assert counsellor_of(after) == counsellor_of(before) and after["speakers"]["role_confidence"] == 1.0
    assert after["utterances"] == before["utterances"]
    assert "Which voice is the counsellor's?" not in texts(at)


@pytest.fixture(scope="module")
def three_voices(tmp_path_factory) -> tuple[dict, bytes]:
    """The stereo clip's left speaker, jfk, then its right speaker, on one channel: three real
    voices, the counsellor found from the words 0.50 sure. The scored document and the bytes."""
    left, right = load_audio(TEST_DATA / "stereo_diarization.wav").samples
    jfk = load_audio(TEST_DATA / "jfk.flac").mono()
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    path = tmp_path_factory.mktemp("three") / "three.wav"
    sf.write(path, np.concatenate([left, gap, jfk, gap, right]), SAMPLE_RATE)
    document = session_to_dict(run_session(path))
    assert len(document["speakers"]["roles"]) == 3 and document["speakers"]["role_confidence"] < UNSURE_BELOW
    return document, path.read_bytes()


def open_three(three_voices, store, people, digest: str):
    """The three-voice session stored as ann's, and ann's page on it."""
    document, audio = three_voices
    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes(audio)
    stored = store.add_session(people["ann"], "three.wav", document, digest * 64, audio=incoming)
    return stored, sign_in("ann", session=stored.id)


def assert_counsellor_is(document: dict, after: dict, labels: list[str]) -> None:
    """Exactly `labels` are the counsellor's voices, and the counsellor's utterances hold their words."""
    assert sorted(label for label, role in after["speakers"]["roles"].items() if role == "counsellor") == labels
    said = " ".join(w["text"] for w in document["speakers"]["words"] if w["speaker"] in labels)
    assert " ".join(u["text"] for u in after["utterances"] if u["speaker"] == "counsellor") == said


def test_with_three_voices_any_one_can_be_chosen(three_voices, store, people):
    """The page asks; the choice regroups the stored words, with no new transcription."""
    document = three_voices[0]
    stored, at = open_three(three_voices, store, people, "e")
    assert "Which one is you?" in texts(at)
    assert len(at.get("audio")) == 4  # three voices' clips, and the whole recording in the sidebar
    chosen = next(label for label, role in document["speakers"]["roles"].items() if role == "client")
    at.button(key=f"pick-{chosen}").click().run()
    assert not at.exception and not at.error
    assert_counsellor_is(document, store.session(people["ann"], stored.id).document, [chosen])
    assert "Which one is you?" not in texts(at)


def test_with_three_voices_two_can_be_chosen_as_one_person(three_voices, store, people):
    document = three_voices[0]
    stored, at = open_three(three_voices, store, people, "f")
    assert at.button(key="pick-several-save").disabled  # two voices or more to join
    pair = sorted(document["speakers"]["roles"])[1:]
    at.multiselect(key=f"pick-several-{stored.id}").set_value(pair).run()
    at.button(key="pick-several-save").click().run()
    assert not at.exception and not at.error
    assert_counsellor_is(document, store.session(people["ann"], stored.id).document, pair)


def test_with_three_voices_an_observer_is_set_aside(three_voices, store, people):
    document = three_voices[0]
    stored, at = open_three(three_voices, store, people, "a")
    counsellor, observer, client = sorted(document["speakers"]["roles"])
    at.multiselect(key=f"pick-observers-{stored.id}").set_value([observer]).run()
    assert at.button(key=f"pick-{observer}").disabled  # an observer is not the counsellor
    at.button(key=f"pick-{counsellor}").click().run()
    assert not at.exception and not at.error
    after = store.session(people["ann"], stored.id).document
    assert_counsellor_is(document, after, [counsellor])
    assert after["speakers"]["observers"] == [observer]
    heard = " ".join(w["text"] for w in document["speakers"]["words"] if w["speaker"] == client)
    assert " ".join(u["text"] for u in after["utterances"] if u["speaker"] == "client") == heard


def test_a_sure_or_profiled_session_asks_nothing(unsure, store, people):
    document, audio = unsure
    for n, speakers in enumerate([{"role_confidence": 0.9}, {PROFILE_KEY: True}]):
        incoming = store.incoming_dir / "upload.wav"
        incoming.write_bytes(audio)
        changed = {**document, "speakers": {**document["speakers"], **speakers}}
        stored = store.add_session(people["ann"], f"s{n}.wav", changed, f"{n}" * 64, audio=incoming)
        at = sign_in("ann", session=stored.id)
        assert "Which one is you?" not in texts(at) and len(at.get("audio")) == 1  # only the recording
    # Sure roles can still be wrong: behind the switch, the same choice (here: the profile's session).
    at.toggle(key=f"voices-{stored.id}").set_value(True).run()
    assert "Which one is you?" in texts(at) and "found by your saved voice" in texts(at)
    other = next(label for label, role in document["speakers"]["roles"].items() if role == "client")
    at.button(key=f"pick-{other}").click().run()
    assert not at.exception and not at.error
    assert counsellor_of(store.session(people["ann"], stored.id).document) == other
    assert "Which one is you?" not in texts(at) and not at.toggle(key=f"voices-{stored.id}").value


def test_an_enrolled_voice_is_the_counsellor_of_a_scored_recording(store, people):
    """FEE083 enrols from one AMI meeting excerpt and is the counsellor of another, through the app's jobs."""
    at = open_voice_page()
    upload_voice(at, "fee083.flac", (AMI / "trn06.flac").read_bytes())  # she speaks 26 of its 30 s
    assert not at.error
    at.radio(key="nav").set_value("Practise").run()
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("trn09.flac", (AMI / "trn09.flac").read_bytes(), "audio/flac").run()
    at.button(key="score").click().run()
    scored(at, store, timeout_s=SCORING_S)
    assert not at.exception and not at.error

    (stored,) = store.sessions(people["ann"])
    speakers = stored.document["speakers"]
    assert speakers["method"] == "diarization" and speakers[PROFILE_KEY] is True
    assert speakers["role_confidence"] >= 0.7  # measured 0.83
    turns = [SpeakerTurn(t["start"], t["end"], t["speaker"]) for t in speakers["turns"]]
    mapping = DiarizationErrorRate().optimal_mapping(truth("trn09"), hypothesis(turns))
    assert mapping[counsellor_of(stored.document)] == "FEE083"
    assert "Which one is you?" not in texts(at)


def test_an_enrolled_voice_overrules_what_the_words_suggest(unsure, store, people):
    """Without a profile the words make the first voice the counsellor; jfk's enrolled voice makes it his."""
    document, audio = unsure
    assert counsellor_of(document) == "S0"
    at = open_voice_page()
    upload_voice(at, "jfk.flac", (TEST_DATA / "jfk.flac").read_bytes())
    at.radio(key="nav").set_value("Practise").run()
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("left_then_jfk.wav", audio, "audio/wav").run()
    at.button(key="score").click().run()
    scored(at, store, timeout_s=SCORING_S)
    assert not at.exception and not at.error

    (stored,) = store.sessions(people["ann"])
    speakers = stored.document["speakers"]
    counsellor = counsellor_of(stored.document)
    jfk_starts = load_audio(TEST_DATA / "stereo_diarization.wav").duration_s  # the left speaker, then a pause
    assert counsellor != "S0" and speakers[PROFILE_KEY] is True and speakers["role_confidence"] >= UNSURE_BELOW
    assert all(t["start"] >= jfk_starts for t in speakers["turns"] if t["speaker"] == counsellor)
    said = " ".join(u["text"] for u in stored.document["utterances"] if u["speaker"] == "counsellor")
    assert "what your country can do for you" in said.lower()


def test_voices_are_learnt_at_the_same_time_as_the_same_ones_alone(store, people):
    """Two threads share the process's speaker models (a page and the scoring worker); unguarded, this crashed."""
    files = {"ann": TEST_DATA / "jfk.flac", "bob": AMI / "trn06.flac"}
    alone = {name: profile_of_file(path) for name, path in files.items()}  # also loads the shared models
    threads = [
        threading.Thread(target=enrol_upload, args=(store, people[name], path.name, path.read_bytes()))
        for name, path in files.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in files:
        np.testing.assert_array_equal(np.load(profile_path(store, people[name])), alone[name])


def test_the_live_page_tells_roles_by_the_saved_voice(store, people):
    """The take is set up before the WebRTC component, which needs a real server (AppTest stops at it)."""
    profile_path(store, people["ann"]).parent.mkdir()
    np.save(profile_path(store, people["ann"]), profile_of_file(TEST_DATA / "jfk.flac"))
    for name, voice in [("ann", str(profile_path(store, people["ann"]))), ("bob", None)]:
        at = sign_in(name)
        at.radio(key="source").set_value("Live").run()
        assert at.session_state.live_take.options.counsellor_voice == voice
