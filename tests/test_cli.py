"""`trainer score` end to end: JSON per input, summary.csv, exit status, bad inputs."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from tests.conftest import LEFT_TEXT, RIGHT_TEXT, normalise, read_summary
from trainer.batch.output import SPEAKER_COLUMNS, SUMMARY_COLUMNS
from trainer.cli import main


def test_score_real_stereo_recording(tmp_path, stereo_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(stereo_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "stereo_diarization.json").read_text())
    assert {"source", "duration_s", "utterances", "metrics", "feedback"} <= doc.keys()
    assert doc["duration_s"] == 5.0
    by_speaker = {u["speaker"]: normalise(u["text"]) for u in doc["utterances"]}
    # Both real speakers talk at once; each channel keeps its own words.
    assert by_speaker["counsellor"] == normalise(LEFT_TEXT)
    assert by_speaker["client"] == normalise(RIGHT_TEXT)
    assert all(u["code"] for u in doc["utterances"] if u["speaker"] == "counsellor")
    assert all(u["code"] is None for u in doc["utterances"] if u["speaker"] == "client")
    assert doc["speakers"]["method"] == "channel"
    assert 0.55 < doc["metrics"]["counsellor_talk_share"] < 0.75
    row = read_summary(out)[0]
    assert (row["speakers_method"], row["n_speakers"], row["role_confidence"]) == ("channel", "2", "1.0")
    # One input: its feedback is printed too, as stored (summary, metrics, voices, where the JSON is).
    shown = " ".join(result.stdout.replace("│", " ").split())
    assert " ".join(doc["feedback"]["summary"].split()) in shown
    assert "Reflections per question" in shown and "Your talk time" in shown
    assert "Voices: 2 (one per channel); role confidence 100%" in shown
    assert f"Full result: {out / 'stereo_diarization.json'}" in shown
    assert row["speech_over_background_db"] == ""  # 5 s: too short to measure the room


def test_swap_roles_puts_the_counsellor_on_the_right(tmp_path, stereo_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(stereo_path), "--out", str(out), "--swap-roles"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "stereo_diarization.json").read_text())
    counsellor = [u["text"] for u in doc["utterances"] if u["speaker"] == "counsellor"]
    assert normalise(" ".join(counsellor)) == normalise(RIGHT_TEXT)


def test_batch_goes_on_after_bad_inputs_and_exits_non_zero(tmp_path, transcript_csv):
    folder = tmp_path / "in"
    (folder / "week1").mkdir(parents=True)
    shutil.copy(transcript_csv, folder / "week1" / "good.csv")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.mp3").write_text("this is not audio")
    (folder / "bad.csv").write_text("who,what\nx,y\n")
    (folder / "ignored.ref.csv").write_text("speaker,text\nT,Hi\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(folder), "--out", str(out)])
    assert result.exit_code == 1
    rows = {r["file"].split("/")[-1]: r for r in read_summary(out)}
    assert set(rows) == {"good.csv", "empty.wav", "notes.mp3", "bad.csv"}
    assert rows["good.csv"]["status"] == "ok" and rows["good.csv"]["error"] == ""
    assert rows["empty.wav"]["error"].endswith("file is empty")
    assert "not a readable audio file" in rows["notes.mp3"]["error"]
    assert "missing column" in rows["bad.csv"]["error"]
    assert all(r["status"] == "error" and "\n" not in r["error"] for k, r in rows.items() if k != "good.csv")
    assert "1 of 4 scored" in result.output
    assert "Reflections per question" not in result.output  # a batch's feedback is in its files and report
    assert list(read_summary(out)[0].keys()) == list(SUMMARY_COLUMNS)


def test_transcript_rows_stay_one_utterance_each(tmp_path, transcript_csv):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(transcript_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "session.json").read_text())
    assert len(doc["utterances"]) == 6
    assert [u["start"] for u in doc["utterances"]] == [0.0, 3.5, 10.0, 13.5, 18.5, 20.5]
    row = read_summary(out)[0]
    assert row["status"] == "ok"
    assert float(row["counsellor_talk_share"]) == round(7.5 / (7.5 + 11.5), 4)
    assert [row[c] for c in SPEAKER_COLUMNS] == [""] * len(SPEAKER_COLUMNS)  # a transcript brings its speakers


def test_missing_file_gets_an_error_row(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(tmp_path / "nope.wav"), "--out", str(out)])
    assert result.exit_code == 1
    assert read_summary(out)[0]["error"].endswith("nope.wav: no such file")


def test_a_folder_with_nothing_to_score_is_named(tmp_path):
    folder = tmp_path / "week3"
    folder.mkdir()
    (folder / "notes.docx").write_bytes(b"not a recording")
    result = CliRunner().invoke(main, ["score", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"{folder}: no audio or transcript files to score in it (.wav" in result.output
    assert not (tmp_path / "out").exists()


def test_every_command_has_help_with_an_example():
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in (command.help or ""), f"{name} help needs an Example:"
