"""Every page of the app through Streamlit's AppTest; Whisper is replaced by scoring a real transcript."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

import trainer.app.intake
from trainer.app import jobs
from trainer.app.review import Correction
from trainer.app.ui.common import metric_cell, shown_table
from trainer.app.ui.practise import progress_sentence
from trainer.batch.output import session_to_dict
from trainer.cli import main
from trainer.pipeline import PipelineOptions, run_session
from trainer.safe_text import markdown_text
from trainer.schema import Code

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PACKAGE_APP = Path(trainer.__file__).resolve().parent / "app" / "streamlit_app.py"
TIMEOUT = 60  # the first run loads spaCy


@pytest.fixture(autouse=True)
def data_dir_env(tmp_path, monkeypatch):
    """The app finds its data directory through the environment; its scoring worker ends with the test."""
    monkeypatch.setenv("TRAINER_DATA_DIR", str(tmp_path / "data"))
    yield
    jobs.stop_workers(timeout_s=60)


def scored(at: AppTest, store, timeout_s: float = 60) -> AppTest:
    """Wait until the app's worker has scored every queued job, then redraw the page."""
    deadline = time.monotonic() + timeout_s
    while True:
        with store.transaction(write=False) as conn:
            if not conn.execute("SELECT 1 FROM jobs WHERE state IN ('queued', 'running')").fetchone():
                break
        assert time.monotonic() < deadline, "the worker did not finish scoring"
        time.sleep(0.1)
    return at.run()


@pytest.fixture
def ann_session(store, people, transcript_csv, stereo_path):
    """A stored session of ann's, with its recording: OQ, -, SR, -, CQ, - (open questions 50%)."""
    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes(stereo_path.read_bytes())
    return store.add_session(
        people["ann"], "week1.wav", session_to_dict(run_session(transcript_csv)), "a" * 64, audio=incoming
    )


def sign_in(name: str, password: str = "password1", session: int | str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if session is not None:
        at.query_params["session"] = str(session)
    at.run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    assert not at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts(at: AppTest) -> str:
    """All text on the page, markdown escapes removed."""
    shown = (str(e.value) for kind in ("markdown", "caption", "error", "info", "success") for e in at.get(kind))
    return " ".join(shown).replace("\\", "")


def test_first_start_explains_how_to_make_accounts(store):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert [t.value for t in at.title] == ["Listening trainer"]
    assert "trainer user add" in at.info[0].value
    assert (store.data_dir / "trainer.db").is_file()


def test_wrong_password_is_one_line(people):
    at = sign_in("ann", "password2")
    assert [e.value for e in at.error] == ["wrong user name or password"]
    assert at.session_state.user is None


def test_upload_is_scored_with_progress_then_feedback(store, people, steps, stereo_path):
    at = sign_in("ann")
    assert [t.value for t in at.title] == ["Practise"]
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("week2.wav", stereo_path.read_bytes(), "audio/wav").run()
    at.button(key="score").click().run()
    assert not at.exception and not at.error
    scored(at, store)
    assert steps == ["transcript", "coding", "metrics", "feedback"]
    (saved,) = store.sessions(people["ann"])
    assert [t.value for t in at.title] == [markdown_text("week2.wav")]
    assert at.session_state.open_session == saved.id and at.query_params["session"] == str(saved.id)
    assert metric(at, "Open questions") == "50%" and metric(at, "Reflections per question") == "0.5"
    assert "Feedback" in [s.value for s in at.subheader]
    assert "Reflect more, ask less" in texts(at)
    assert {"download-json", "download-csv", "download-html"} <= {b.key for b in at.get("download_button")}
    assert len(at.get("vega_lite_chart")) == 2  # talk time, who spoke when
    assert store.audio_file(saved).read_bytes() == stereo_path.read_bytes()


def test_recording_in_the_browser(store, people, steps, stereo_path):
    at = sign_in("ann")
    at.audio_input(key="record").upload("audio.wav", stereo_path.read_bytes()).run()
    at.button(key="score").click().run()
    scored(at, store)
    assert not at.error and at.title[0].value.startswith("Recording ")
    assert len(store.sessions(people["ann"])) == 1


def test_play_button_starts_the_recording_there(ann_session, people):
    at = sign_in("ann", session=ann_session.id)
    assert at.title[0].value == markdown_text("week1.wav") and at.session_state.play_from == 0.0
    assert len(at.sidebar.get("audio")) == 1
    at.button(key="play-4").click().run()
    assert at.session_state.play_from == 18.5 and at.session_state.autoplay is True


def test_feedback_shows_what_an_experienced_counsellor_said_at_a_similar_moment(ann_session, people):
    at = sign_in("ann", session=ann_session.id)
    shown = texts(at)
    assert "What an experienced counsellor said at a similar moment" in shown
    # The client turn ann answered with a question, her answer, and an expert's complex reflection instead.
    assert "**Client:** Well I do drink a bit more than I used to. **You said** > Do you drink every day?" in shown
    assert ":violet-badge[Complex reflection]" in shown and "AnnoMI (Wu et al., ICASSP 2022)" in shown


def test_a_session_scored_from_an_uploaded_transcript_opens_without_a_player(store, people, transcript_csv):
    jobs.submit(store, people["ann"], "week1.csv", transcript_csv.read_bytes())
    at = sign_in("ann", session=jobs.run_next(store).session_id)
    assert not at.exception and at.title[0].value == markdown_text("week1.csv")
    assert not at.sidebar.get("audio") and not [b for b in at.button if b.key and b.key.startswith("play-")]


def test_unreadable_upload_is_one_error_line_and_saves_nothing(store, people, monkeypatch):
    monkeypatch.setattr(trainer.app.intake, "run_session", run_session)  # the real one: decoding fails first
    at = sign_in("ann")
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("broken.wav", b"RIFF but not really audio" * 50, "audio/wav").run()
    at.button(key="score").click().run()
    scored(at, store)
    assert not at.exception
    assert [e.value for e in at.error] == [
        markdown_text("broken.wav: not a readable audio file (invalid data found when processing input)")
    ]
    assert store.sessions(people["ann"]) == ()
    assert not list((store.data_dir / "incoming").iterdir()) and not (store.data_dir / "audio").exists()


def test_oversized_upload_is_refused(store, people, steps, monkeypatch):
    monkeypatch.setenv("TRAINER_MAX_UPLOAD_MB", "1")
    at = sign_in("ann")
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("long.wav", b"\0" * (2**20 + 1), "audio/wav").run()
    at.button(key="score").click().run()
    assert [e.value for e in at.error] == [markdown_text("long.wav: 1 MB is over the 1 MB upload limit")]
    assert steps == [] and store.sessions(people["ann"]) == ()


def test_history_lists_sessions_charts_progress_and_opens_one(ann_session, store, people, transcript_csv):
    week2 = store.add_session(people["ann"], "week2.wav", ann_session.document, "b" * 64)
    # In week 2 the closed question became a reflection: 2 reflections per question, no longer 0.5.
    fix = Correction(4, "Do you drink every day?", 18.5, code=Code.SIMPLE_REFLECTION)
    store.set_corrections(people["ivy"], week2.id, {4: fix})
    store.add_session(people["bob"], "bobs.wav", ann_session.document, "c" * 64)
    at = sign_in("ann")
    at.radio(key="nav").set_value("My sessions").run()
    table = at.dataframe[0].value
    assert list(table["session"]) == ["week2.wav", "week1.wav"]  # newest first, only ann's
    # Each metric cell is written with its likely range, the number kept beneath for sorting.
    shown = shown_table(table).to_string(max_columns=len(table.columns))
    ranged = table.dropna(subset=["open_question_share_low"])
    assert len(ranged) >= 1  # the coder's codes of week 1 leave the open share uncertain
    for row in ranged.itertuples():
        low, high = row.open_question_share_low, row.open_question_share_high
        assert f"{row.open_question_share:.0%} ({low:.0%}–{high:.0%})" in shown
    for row in table.itertuples():
        cell = metric_cell("open_question_share", row.open_question_share, row.open_question_share_low, None)
        assert cell == f"{row.open_question_share:.0%}" and cell in shown  # no range: the value alone
    assert len(at.get("vega_lite_chart")) == 4  # one per metric over time
    sentences = [m.value for m in at.markdown if " over your last " in m.value]
    assert "Reflections per question: 0.5 → 2.0 over your last 2 sessions, now at good level." in sentences
    assert "Open questions: 50% → 100% over your last 2 sessions, now at good level." in sentences
    assert len(sentences) == 4  # one per metric
    at.selectbox(key="history_pick").set_value(ann_session.id).run()
    at.button(key="history_open").click().run()
    assert at.title[0].value == markdown_text("week1.wav")
    at.button(key="back").click().run()
    assert at.title[0].value == "My sessions" and "session" not in at.query_params
    # A click right after Back can still carry the closed session's address: it stays closed.
    at.query_params["session"] = str(ann_session.id)
    at.selectbox(key="history_pick").set_value(week2.id).run()
    assert at.title[0].value == "My sessions" and "session" not in at.query_params


def test_sessions_are_renamed_tagged_and_progress_filtered_by_scenario(ann_session, store, people):
    store.add_session(people["ann"], "week2.wav", ann_session.document, "b" * 64)
    at = sign_in("ann", session=ann_session.id)
    at.text_input(key="naming_title").input("First try")
    at.text_input(key="naming_scenario").input("alcohol,  ambivalent client")
    at.button(key="naming_save").click().run()
    assert not at.exception and at.title[0].value == "First try"
    assert store.session(people["ann"], ann_session.id).scenario == "alcohol, ambivalent client"
    at.button(key="back").click().run()
    at.radio(key="nav").set_value("My sessions").run()
    assert list(at.dataframe[0].value["scenario"]) == ["", "alcohol, ambivalent client"]
    at.multiselect(key="history_scenarios").select("alcohol, ambivalent client").run()
    assert list(at.dataframe[0].value["session"]) == ["First try"]
    assert len([m for m in at.markdown if " in your first session" in m.value]) == 4  # progress of that one only


def test_a_session_needs_a_name(ann_session, people):
    at = sign_in("ann", session=ann_session.id)
    at.text_input(key="naming_title").input("  ")
    at.button(key="naming_save").click().run()
    assert [e.value for e in at.error] == ["a session needs a name"]


@pytest.mark.parametrize(("viewer", "requested"), [("bob", None), ("olga", None), ("bob", "abc"), ("ann", 999)])
def test_no_one_opens_a_session_that_is_not_theirs_by_url(ann_session, people, viewer, requested):
    at = sign_in(viewer, session=requested or ann_session.id)
    assert markdown_text("week1.wav") not in [t.value for t in at.title]
    assert len(at.error) == 1 and "not yours to open" in at.error[0].value
    assert not at.metric
    assert at.session_state.open_session is None


def test_instructor_filters_opens_and_corrects_a_code(ann_session, store, people):
    bobs = store.add_session(people["bob"], "bobs.wav", ann_session.document, "c" * 64)
    store.rename_session(people["bob"], bobs.id, "bobs.wav", "smoking")
    at = sign_in("ivy")
    assert at.title[0].value == "Cohort spring"
    assert list(at.dataframe[0].value["trainee"]) == ["ann", "bob"]
    assert len(at.dataframe[1].value) == 2
    at.multiselect(key="filter_scenarios").set_value(["smoking"]).run()
    assert list(at.dataframe[1].value["trainee"]) == ["bob"]
    at.multiselect(key="filter_scenarios").set_value([]).run()
    at.multiselect(key="filter_trainees").set_value(["ann"]).run()
    at.selectbox(key="filter_metric").set_value("open_question_share").run()
    at.multiselect(key="filter_levels").set_value(["fair"]).run()
    assert list(at.dataframe[1].value["session"]) == ["week1.wav"]
    at.multiselect(key="filter_levels").set_value(["good"]).run()
    assert at.dataframe[1].value.empty
    at.multiselect(key="filter_levels").set_value([]).run()
    at.selectbox(key="cohort_pick").set_value(ann_session.id).run()
    at.button(key="cohort_open").click().run()
    assert at.title[0].value == markdown_text("week1.wav") and metric(at, "Open questions") == "50%"

    edits = {
        "edited_rows": {4: {"code": "open_question", "comment": "try 'what' here"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.session_state[f"editor-{ann_session.id}-0"] = edits
    at.button(key="save_corrections").click().run()
    assert not at.exception
    assert metric(at, "Open questions") == "100%"
    (fix,) = store.session(people["ivy"], ann_session.id).corrections
    assert (fix.index, fix.code.value, fix.comment, fix.author) == (4, "open_question", "try 'what' here", "ivy")

    trainee = sign_in("ann", session=ann_session.id)
    assert metric(trainee, "Open questions") == "100%"
    assert "Corrected by ivy; the machine said Closed question." in texts(trainee)
    assert "try 'what' here" in texts(trainee)
    assert "save_corrections" not in {b.key for b in trainee.button}  # trainees see, never edit


def test_instructor_sets_a_subcode_on_a_rule_coded_session(store, people, transcript_csv):
    document = session_to_dict(run_session(transcript_csv, PipelineOptions(coder="rules")))  # no subcodes
    saved = store.add_session(people["ann"], "rules.csv", document, "d" * 64)
    at = sign_in("ivy", session=saved.id)
    key = f"editor-{saved.id}-0"
    at.session_state[key] = {"edited_rows": {0: {"subcode": "change"}}, "added_rows": [], "deleted_rows": []}
    at.button(key="save_corrections").click().run()
    assert not at.exception
    said = "utterance #0: 'change' is client talk and cannot label counsellor speech"
    assert [e.value for e in at.error] == [markdown_text(said)]
    assert store.session(people["ivy"], saved.id).corrections == ()

    at.session_state[key] = {"edited_rows": {3: {"subcode": "change"}}, "added_rows": [], "deleted_rows": []}
    at.button(key="save_corrections").click().run()
    assert not at.exception and not at.error
    (fix,) = store.session(people["ivy"], saved.id).corrections
    assert (fix.index, fix.speaker, fix.code, fix.subcode) == (3, None, None, "change")
    assert "Catch the change talk" in texts(at)  # "Do you drink every day?" let it pass


def test_instructor_comments_marks_reviewed_and_sees_agreement(ann_session, store, people):
    at = sign_in("ivy", session=ann_session.id)
    at.text_area(key="session_comment").input("Lovely open start.")
    at.button(key="comment_submit").click().run()
    stored = store.session(people["ann"], ann_session.id)
    assert [c.text for c in stored.comments] == ["Lovely open start."] and stored.reviewed_by == "ivy"
    assert "Lovely open start." in texts(at)
    at.button(key="back").click().run()
    at.radio(key="nav").set_value("Agreement").run()
    assert at.title[0].value == "Agreement with the machine"
    assert metric(at, "Codes agreed") == "100%" and metric(at, "Counsellor utterances") == "3"


def test_agreement_page_before_any_review(ann_session, people):
    at = sign_in("ivy")
    at.radio(key="nav").set_value("Agreement").run()
    assert "No session has been reviewed yet" in at.info[0].value


def test_rescoring_keeps_corrections(ann_session, store, people, steps):
    fix = Correction(4, "Do you drink every day?", 18.5, code=Code.OPEN_QUESTION)
    store.set_corrections(people["ivy"], ann_session.id, {4: fix})
    at = sign_in("ivy", session=ann_session.id)
    at.button(key="rescore").click().run()
    assert not at.exception and not at.error
    assert "Scoring again" in [h.value for h in at.subheader]  # queued like an upload, not scored in the page
    at = scored(at, store)
    assert steps[-1] == "feedback"
    assert "is scored again with the current models" in texts(at)
    after = store.session(people["ivy"], ann_session.id)
    assert after.document["utterances"][4]["code"] == "closed_question"  # the machine still says so
    assert [c.index for c in after.corrections] == [4] and metric(at, "Open questions") == "100%"


def test_sign_out_forgets_the_user(people):
    at = sign_in("ann")
    at.button(key="logout").click().run()
    assert at.session_state.user is None
    assert at.title[0].value == "Listening trainer"


def test_trainer_app_command_starts_streamlit_on_localhost(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.call", lambda command, env: calls.append((command, env)) or 0)
    args = [
        "app",
        "--data-dir",
        str(tmp_path / "d"),
        "--port",
        "8600",
        "--max-upload-mb",
        "50",
        "--",
        "--server.headless",
        "true",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    ((command, env),) = calls
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(PACKAGE_APP.with_name("serve.py"))
    assert PACKAGE_APP.with_name("serve.py").is_file()  # inside the package, so an installed wheel has it
    flags = dict(zip(command[5::2], command[6::2]))
    assert flags == {
        "--server.port": "8600",
        "--server.address": "localhost",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "viewer",
        "--server.maxUploadSize": "50",
        "--server.headless": "true",
    }
    assert env["TRAINER_DATA_DIR"] == str(tmp_path / "d") and env["TRAINER_MAX_UPLOAD_MB"] == "50"
    assert (tmp_path / "d" / "trainer.db").is_file()  # created before the browser opens


@pytest.mark.parametrize(
    ("key", "values", "sentence"),
    [
        (
            "reflection_question_ratio",
            [0.0, 2.2],
            "Reflections per question: 0.0 → 2.2 over your last 2 sessions, now at good level.",
        ),
        (
            "open_question_share",
            [0.9, 0.2, 0.3, 0.4, 0.5, 0.45],
            "Open questions: 20% → 45% over your last 5 sessions, now at below fair level.",
        ),
        ("complex_reflection_share", [0.4], "Complex reflections: 40% in your first session, now at fair level."),
        (
            "counsellor_talk_share",
            [0.7, 0.45],
            "Counsellor talk time: 70% → 45% over your last 2 sessions, now within the 50% guide.",
        ),
    ],
)
def test_progress_sentence(key, values, sentence):
    assert progress_sentence(key, values) == sentence


def test_progress_sentence_names_a_doubtful_level_as_the_session_page_does():
    sentence = progress_sentence("reflection_question_ratio", [0.5, 1.1], (0.8, 1.5))
    assert sentence == (
        "Reflections per question: 0.5 → 1.1 over your last 2 sessions, "
        "now around the fair level, the coder cannot tell."
    )
    clear = progress_sentence("reflection_question_ratio", [0.5, 1.4], (1.1, 1.8))
    assert clear.endswith("now at fair level.")
    talk = progress_sentence("counsellor_talk_share", [0.7, 0.45], (0.25, 0.65))
    assert talk.endswith("now around the 50% guide, one microphone cannot tell.")


def test_guessing_passwords_is_held_up(people):
    at = sign_in("ann", "wrong-password")
    for _ in range(29):
        at.button(key="login_submit").click().run()
    assert at.error[0].value.startswith("too many failed sign-ins: try again in")
    at.text_input(key="login_password").input("password1")
    at.button(key="login_submit").click().run()
    assert at.session_state.user is None and at.error[0].value.startswith("too many failed sign-ins")


def test_uploads_wait_in_the_queue_with_their_place(store, people, transcript_csv, stereo_path, jfk_path, monkeypatch):
    release = threading.Event()

    def slow(path, options, hook, name):  # bob's recording holds the worker until released
        release.wait(60)
        return run_session(transcript_csv, options, hook, name=name)

    monkeypatch.setattr(trainer.app.intake, "run_session", slow)
    jobs.submit(store, people["bob"], "bob.wav", jfk_path.read_bytes())
    at = sign_in("ann")
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("week2.wav", stereo_path.read_bytes(), "audio/wav").run()
    at.button(key="score").click().run()
    assert not at.error
    progress = [p.proto.text for p in at.get("progress")]
    assert progress == [f"**{markdown_text('week2.wav')}**: waiting, 2nd in the queue, 1 ahead of it"]
    release.set()
    scored(at, store)
    assert at.title[0].value == markdown_text("week2.wav")  # its feedback opens once it is scored
    at.button(key="back").click().run()
    assert "week2.wav** is scored." in texts(at)


def test_instructor_corrects_a_code_with_one_click_in_the_transcript(ann_session, store, people):
    at = sign_in("ivy", session=ann_session.id)
    assert "Agreement on this session" in [s.value for s in at.subheader]
    assert not [m for m in at.metric if m.label == "Codes agreed"]  # not before a review
    pills = at.button_group(key="quick-4-0")
    assert pills.value == "closed_question"
    pills.set_value("open_question").run()
    assert not at.exception
    (fix,) = store.session(people["ivy"], ann_session.id).corrections
    assert (fix.index, fix.code.value, fix.author) == (4, "open_question", "ivy")
    assert metric(at, "Open questions") == "100%"
    assert at.button_group(key="quick-4-1").value == "open_question"
    assert "Corrected by ivy; the machine said Closed question." in texts(at)
    assert metric(at, "Codes agreed") == "67%"  # 2 of 3 kept; saved corrections mark the session reviewed
    trainee = sign_in("ann", session=ann_session.id)
    assert not trainee.get("button_group")  # trainees read codes, they do not set them


def test_the_upload_choice_is_kept_after_opening_a_session_and_going_back(ann_session, people):
    at = sign_in("ann")
    at.radio(key="source").set_value("Upload a file").run()
    at.radio(key="nav").set_value("My sessions").run()
    at.button(key="history_open").click().run()
    at.button(key="back").click().run()
    at.radio(key="nav").set_value("Practise").run()
    assert at.radio(key="source").value == "Upload a file"
    assert at.file_uploader(key="upload") is not None
