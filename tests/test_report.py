"""Cohort report: one self-contained HTML page and a CSV from a scored folder."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser

from click.testing import CliRunner

from tests.test_batch import write_transcript
from trainer.batch.cohort_report import CSV_COLUMNS, write_report
from trainer.batch.output import summary_row, write_session_json, write_summary
from trainer.batch.runner import find_inputs, score_batch
from trainer.cli import main
from trainer.pipeline import summarise
from trainer.schema import Attribution, Code, CodedUtterance, Role, Utterance

# Mostly closed questions, one simple reflection: below every MITI threshold.
WEAK = (
    ("counsellor", "Do you drink every day?"),
    ("client", "Most days."),
    ("counsellor", "Is it more than three beers?"),
    ("client", "Sometimes."),
    ("counsellor", "Have you tried to stop?"),
    ("client", "Not really."),
    ("counsellor", "You drink most days."),
    ("client", "Yes."),
)


class Links(HTMLParser):
    """Collects every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.targets += [v for k, v in attrs if k in ("href", "src") and v]


def scored_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_transcript(folder / "strong.csv", repeat=2)
    with (folder / "weak.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("speaker", "text"), *WEAK])
    (folder / "broken.csv").write_text("speaker,words\ncounsellor,hello\n")
    out = tmp_path / "out"
    score_batch(find_inputs([folder]), out)
    return out


def test_report_csv_judges_each_session_against_the_thresholds(tmp_path):
    out = scored_folder(tmp_path)
    files = write_report(out)
    with files.csv.open(newline="") as f:
        rows = {r["file"].split("/")[-1]: r for r in csv.DictReader(f)}
    assert list(rows["weak.csv"]) == list(CSV_COLUMNS)
    weak = rows["weak.csv"]
    assert float(weak["open_question_share"]) == 0.0 and weak["open_question_share_level"] == "practise"
    assert weak["reflection_question_ratio_level"] == "practise"
    assert rows["strong.csv"]["open_question_share_level"] in ("fair", "good")
    assert weak["feedback"].startswith("0 of")
    assert rows["broken.csv"]["status"] == "error" and rows["broken.csv"]["open_question_share_level"] == ""


def test_report_page_is_self_contained_and_links_each_session(tmp_path):
    out = scored_folder(tmp_path)
    page = write_report(out).html.read_text(encoding="utf-8")
    links = Links()
    links.feed(page)
    assert sorted(links.targets) == ["report.csv", "strong.json", "weak.json"]
    assert all((out / t).is_file() for t in links.targets)
    assert not re.search(r"(?:https?:)?//", page.split("<body>")[1])  # nothing fetched from the network
    assert page.count("<svg") == 4  # one distribution per metric
    assert "2 session(s) scored, 1 could not be scored" in page
    assert "missing column(s) text" in page


def test_report_command_and_score_option(tmp_path):
    out = scored_folder(tmp_path)
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file() and (out / "report.csv").is_file()

    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["score", str(tmp_path / "in" / "weak.csv"), "--out", str(again), "--report"])
    assert result.exit_code == 0, result.output
    assert (again / "report.html").is_file()


def test_report_of_an_unscored_folder_says_so(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert "no summary.csv; score the folder first" in result.output


def test_report_carries_the_talk_share_range_of_one_microphone(tmp_path):
    coded = [
        CodedUtterance(Utterance(Role.COUNSELLOR, "What brings you here?", 0.0, 5.0), Code.OPEN_QUESTION),
        CodedUtterance(Utterance(Role.CLIENT, "My wife.", 5.0, 10.0)),
    ]
    attribution = Attribution(turns=(), roles=(("S0", Role.COUNSELLOR), ("S1", Role.CLIENT)), method="diarization")
    session = summarise("mono.wav", 10.0, coded, speakers=attribution)
    low, high = session.metrics.interval("counsellor_talk_share")
    write_session_json(session, tmp_path / "mono.json")
    write_summary([summary_row("mono.wav", session, json_path="mono.json")], tmp_path / "summary.csv")
    files = write_report(tmp_path)
    with files.csv.open(newline="") as f:
        (row,) = csv.DictReader(f)
    assert float(row["counsellor_talk_share_low"]) == round(low, 4)
    assert float(row["counsellor_talk_share_high"]) == round(high, 4)
    page = files.html.read_text(encoding="utf-8")
    assert "likely 30%–70%" in page and "around the 50% guide, one microphone cannot tell" in page


def test_report_flags_one_microphone_sessions_whose_roles_are_unsure(tmp_path):
    coded = [
        CodedUtterance(Utterance(Role.COUNSELLOR, "What brings you here?", 0.0, 5.0), Code.OPEN_QUESTION),
        CodedUtterance(Utterance(Role.CLIENT, "My wife.", 5.0, 10.0)),
    ]
    roles = (("S0", Role.COUNSELLOR), ("S1", Role.CLIENT))
    rows = []
    for name, confidence in (("unsure", 0.62), ("sure", 0.97)):
        voices = Attribution(turns=(), roles=roles, method="diarization", role_confidence=confidence)
        session = summarise(f"{name}.wav", 10.0, coded, speakers=voices)
        write_session_json(session, tmp_path / f"{name}.json")
        rows.append(summary_row(f"{name}.wav", session, json_path=f"{name}.json"))
    write_summary(rows, tmp_path / "summary.csv")
    files = write_report(tmp_path)
    with files.csv.open(newline="") as f:
        written = {r["file"]: r for r in csv.DictReader(f)}
    unsure = written["unsure.wav"]
    assert (unsure["speakers_method"], unsure["role_confidence"]) == ("diarization", "0.62")
    page = files.html.read_text(encoding="utf-8")
    assert page.count("roles unsure") == 1 and "roles unsure (62%)" in page
