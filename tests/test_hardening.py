"""What an attacker, a broken file or a killed process could do before: each case now refused or contained."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES
from tests.hostile import silent_flac
from tests.test_app import scored, sign_in
from trainer.app import jobs
from trainer.app.review import Correction, export_csv, review
from trainer.batch.output import session_to_dict, write_session_json
from trainer.cli import main
from trainer.errors import AudioError, TranscriptFormatError
from trainer.pipeline import PipelineOptions, run_session
from trainer.safe_text import FORMULA_START, markdown_text
from trainer.schema import Role, Utterance
from trainer.scoring.talk_time import _floor_changes, talk_stats
from trainer.speech.audio import load_audio
from trainer.speech.transcript_files import read_transcript


@pytest.fixture(autouse=True)
def data_dir_env(tmp_path, monkeypatch):
    """The app finds the store's data directory (conftest's `store`) through the environment."""
    monkeypatch.setenv("TRAINER_DATA_DIR", str(tmp_path / "data"))
    yield
    jobs.stop_workers(timeout_s=60)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("counsellor,nan,2,Hi", "line 2: start 'nan' is not a finite number of seconds"),
        ("counsellor,1,inf,Hi", "line 2: end 'inf' is not a finite number of seconds"),
        ("counsellor,-1,2,Hi", "line 2: start '-1' is negative"),
        ("counsellor,5,2,Hi", "line 2: end 2 s is before start 5 s"),
        ("counsellor,soon,2,Hi", "line 2: start 'soon' is not a number of seconds"),
    ],
)
def test_impossible_csv_times_are_refused_naming_file_and_line(tmp_path, row, message):
    path = tmp_path / "t.csv"
    path.write_text(f"speaker,start,end,text\n{row}\n", encoding="utf-8")
    with pytest.raises(TranscriptFormatError) as refused:
        read_transcript(path)
    assert str(refused.value) == f"{path} {message}"


@pytest.mark.parametrize(
    ("utterance", "message"),
    [
        ({"speaker": "counsellor", "text": None}, "utterance 0: text is missing"),
        ({"speaker": "counsellor", "text": {"a": 1}}, "utterance 0: text is not text but dict"),
        ({"speaker": 3, "text": "Hi"}, "utterance 0: unknown speaker 3 (use counsellor or client)"),
        ({"speaker": "client", "text": "Hi", "start": True}, "utterance 0: start True is not a number of seconds"),
        ({"speaker": "client", "text": "Hi", "code": []}, "utterance 0: unknown code []"),
    ],
)
def test_json_fields_of_the_wrong_kind_are_refused(tmp_path, utterance, message):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"utterances": [utterance]}), encoding="utf-8")
    with pytest.raises(TranscriptFormatError) as refused:
        read_transcript(path)
    assert str(refused.value) == f"{path} {message}"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_json_numbers_and_negative_lengths_are_refused(tmp_path, literal):
    path = tmp_path / "t.json"
    path.write_text(f'{{"duration_s": -100, "utterances": [{{"speaker": "client", "text": "Hi", "end": {literal}}}]}}')
    with pytest.raises(TranscriptFormatError, match=f"^{path}[ :].*(not a JSON number|not a finite number)"):
        read_transcript(path)
    path.write_text('{"duration_s": -100, "utterances": [{"speaker": "client", "text": "Hi"}]}')
    with pytest.raises(TranscriptFormatError, match="duration_s -100 is negative"):
        read_transcript(path)


def test_results_are_strict_json(tmp_path, transcript_csv):
    session = run_session(transcript_csv, PipelineOptions(coder="rules"))
    with pytest.raises(ValueError, match="JSON"):
        write_session_json(replace(session, duration_s=math.inf), tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def brute_force_floor_changes(utterances):
    """The definition, in quadratic time: the floor passes where an utterance is not inside the other side's."""
    ordered = sorted(utterances, key=lambda u: (u.start, u.end))
    floor = [
        u
        for u in ordered
        if not any(o.speaker is not u.speaker and o.start <= u.start and u.end <= o.end for o in ordered)
    ]
    pauses = {role: [] for role in Role}
    for before, after in zip(floor, floor[1:]):
        if after.speaker is not before.speaker:
            pauses[after.speaker].append(max(0.0, after.start - before.end))
    return pauses


spans = st.tuples(st.sampled_from(list(Role)), st.integers(0, 30), st.integers(0, 6)).map(
    lambda t: Utterance(t[0], "x", float(t[1]), float(t[1] + t[2]))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(spans, max_size=12))
def test_floor_changes_follow_their_definition(utterances):
    assert _floor_changes(utterances) == brute_force_floor_changes(utterances)


def test_talk_statistics_of_a_long_transcript_take_linear_time():
    n = 60_000
    utterances = [Utterance(Role(("counsellor", "client")[i % 2]), "x", i * 2.0, i * 2.0 + 1.5) for i in range(n)]
    started = time.process_time()
    stats = talk_stats(utterances)
    # Measured 0.3-0.9 s of CPU on a shared 2-core machine; the quadratic version needed minutes.
    assert time.process_time() - started < 20
    assert dict(stats.response_pause_s)[Role.CLIENT] == 0.5


def test_a_long_silence_is_refused_from_its_header(tmp_path):
    path = silent_flac(tmp_path / "silence.flac", 5)
    with pytest.raises(AudioError, match=r"the recording is 5\.0 h long, over the 4 h limit"):
        load_audio(path)
    nolength = silent_flac(tmp_path / "streamed.flac", 1, declare_length=False)
    with pytest.raises(AudioError, match=r"runs past the 0\.01 h limit"):
        load_audio(nolength, max_hours=0.01)


def test_max_hours_option_and_environment(tmp_path):
    sample = SAMPLES / "weak_mono.flac"  # about a minute
    result = CliRunner().invoke(main, ["score", str(sample), "--out", str(tmp_path / "a"), "--max-hours", "0.01"])
    assert result.exit_code == 1 and "over the 0.01 h limit (--max-hours or TRAINER_MAX_HOURS)" in result.output
    result = CliRunner().invoke(
        main, ["score", str(sample), "--out", str(tmp_path / "b")], env={"TRAINER_MAX_HOURS": "0"}
    )
    assert result.exit_code == 2 and "--max-hours" in result.output


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_data_directory_are_private(tmp_path, people, store):
    assert mode(store.data_dir) == 0o700
    assert mode(store.db_path) == 0o600
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
        sides = [p for p in store.data_dir.iterdir() if p.name.startswith("trainer.db-")]
        assert sides and all(mode(p) == 0o600 for p in sides)


def test_a_database_made_readable_before_is_closed_up(tmp_path):
    from trainer.app.store import Store

    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    old = sqlite3.connect(data / "trainer.db")  # as earlier versions made it, in use in WAL mode
    old.execute("PRAGMA journal_mode = WAL")
    old.execute("CREATE TABLE t (x)")
    os.chmod(data / "trainer.db", 0o644)
    for side in ("trainer.db-wal", "trainer.db-shm"):
        os.chmod(data / side, 0o644)
    try:
        Store(data)
        modes = [mode(p) for p in (data, data / "trainer.db", data / "trainer.db-wal", data / "trainer.db-shm")]
    finally:
        old.close()
    assert modes == [0o700, 0o600, 0o600, 0o600]


@pytest.mark.parametrize("raw", ["99999999999999999999", "9223372036854775808", "²", "'1'", "1.0", "True", "0", "-1"])
def test_odd_session_ids_in_the_url_get_one_error(store, people, raw):
    at = sign_in("ann", session=raw)
    assert not at.exception
    assert len(at.error) == 1 and "does not exist or is not yours to open" in at.error[0].value
    assert at.session_state.open_session is None


def test_a_markdown_file_name_is_shown_as_text(store, people, steps):
    name = "![x](https://example.invalid/pixel.png) **Week** 1.wav"
    at = sign_in("ann")
    at.radio(key="source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload(name, b"RIFF" + b"\0" * 64, "audio/wav").run()
    at.button(key="score").click().run()
    scored(at, store)
    assert not at.exception
    assert [t.value for t in at.title] == [markdown_text(name)]


@pytest.fixture
def steps(monkeypatch, transcript_csv):
    """Any upload is scored as the transcript (no Whisper)."""
    import trainer.app.intake

    monkeypatch.setattr(
        trainer.app.intake, "run_session", lambda path, options, hook, name: run_session(transcript_csv, name=name)
    )


def test_csv_export_has_no_formula_and_scores_again_as_written(tmp_path, transcript_csv):
    texts = ["=1+2 is my plan", "-2+3, she said", "@SUM(A1)", "+44 20 7946 0000", "=cmd\t|x", "'=quoted"]
    source = tmp_path / "s.json"
    utterances = [{"speaker": ("counsellor", "client")[i % 2], "text": text} for i, text in enumerate(texts)]
    source.write_text(json.dumps({"utterances": utterances}), encoding="utf-8")
    document = session_to_dict(run_session(source, PipelineOptions(coder="rules")))
    reviewed = review(document, [Correction(0, texts[0], None, comment='=HYPERLINK("https://example.invalid")')])
    export = tmp_path / "export.csv"
    export.write_text(export_csv(reviewed), encoding="utf-8")
    cells = [cell for row in csv.reader(io.StringIO(export.read_text(encoding="utf-8"))) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(export), "--keep-codes", "--out", str(out)])
    assert result.exit_code == 0, result.output
    again = json.loads((out / "export.json").read_text(encoding="utf-8"))
    assert [u["text"] for u in again["utterances"]] == texts
    assert [u["code"] for u in again["utterances"]] == [u["code"] for u in document["utterances"]]
