"""The hostile corpus (tests/hostile.py) through `trainer score`, `trainer report`, the app's upload path and the store.

Counted over every input: no traceback, no invalid JSON, no file written outside the
output folder or the data directory, no live script or outside fetch in any HTML page,
no spreadsheet formula in any CSV cell.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner

from tests.hostile import HOSTILE_NAMES, STORE_IDS, write_broken_outputs, write_corpus
from trainer.app import jobs
from trainer.cli import main
from trainer.errors import AccessDenied, TrainerError
from trainer.safe_text import FORMULA_START

MIN_INPUTS = 60
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def formula_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell)
    ]


def strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


class Audit(HTMLParser):
    """What in a page could run or fetch: scripts, event handlers, links with a scheme or host, any src."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "img", "link", "base", "form"):
            self.problems.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("src", "srcset", "formaction"):
                self.problems.append(f"{tag} {name}={value}")
            if name == "href":
                parts = urlsplit(value or "")
                if parts.scheme or parts.netloc or (value or "").startswith("/"):
                    self.problems.append(f"href={value}")
        if tag == "meta" and any(k == "http-equiv" for k, _ in attrs):
            self.problems.append("meta http-equiv")


def audit_html(page: str) -> list[str]:
    audit = Audit()
    audit.feed(page)
    audit.close()
    return audit.problems + re.findall(r"url\(|@import", page)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The corpus scored from inside its folder (so file cells start with the hostile names), with a report."""
    root = tmp_path_factory.mktemp("hostile")
    inputs = write_corpus(root / "inputs")
    before = files(root)
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root / "inputs")  # paths as given start with the hostile names; the limit comes from the env
        result = CliRunner().invoke(
            main, ["score", ".", "--out", str(out), "--report"], env={"TRAINER_MAX_HOURS": "0.25"}
        )
    return root, inputs, before, out, result


def test_corpus_is_scored_without_a_traceback(scored):
    root, inputs, _, out, result = scored
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"))))
    assert len(rows) == len(inputs)
    for row in rows:
        if row["status"] != "ok":
            assert "\n" not in row["error"] and "Traceback" not in row["error"], row
            assert not re.search(r"\b[A-Z]\w+(Error|Exception)\b", row["error"]), row  # no exception class names


def test_corpus_refusals_name_the_problem(scored):
    _, _, _, out, _ = scored
    errors = {
        Path(row["file"].lstrip("'")).name: row["error"]
        for row in csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8")))
    }
    assert "start 'nan' is not a finite number of seconds" in errors["time_nan.csv"]
    assert "line 4: end 2 s is before start 9 s" in errors["end_before_start.csv"]
    assert "duration_s -100 is negative" in errors["json_duration_negative.json"]
    assert "utterance 2: text is missing" in errors["json_text_null.json"]
    assert "the recording is 12.0 h long, over the 0.25 h limit" in errors["silence_12h.flac"]
    assert "runs past the 0.25 h limit" in errors["silence_5h_no_length.flac"]
    assert "header_claims_37h.wav" in errors  # FFmpeg trusts the file's size over the header: a short clip


def test_corpus_writes_only_valid_json_inside_out(scored):
    root, _, before, out, _ = scored
    after = files(root)
    outside = {p for p in after if out not in p.parents} | set(before)
    assert {p: after.get(p) for p in outside} == before  # nothing new or changed outside --out
    written = list(out.glob("*.json"))
    assert written
    for path in written:
        strict_json(path.read_text(encoding="utf-8"))


def test_corpus_report_has_no_script_no_fetch_and_csvs_no_formula(scored):
    _, _, _, out, _ = scored
    page = (out / "report.html").read_text(encoding="utf-8")
    assert audit_html(page) == []
    for href in re.findall(r'href="([^"]*)"', page):
        assert (out / unquote(html.unescape(href))).is_file(), href  # each link names a file beside the page
    for name in ("summary.csv", "report.csv"):
        assert formula_cells((out / name).read_text(encoding="utf-8")) == []


@pytest.fixture(scope="module")
def broken_outputs(tmp_path_factory):
    return write_broken_outputs(tmp_path_factory.mktemp("broken"))


def test_report_on_damaged_folders_never_crashes(broken_outputs):
    for folder in broken_outputs:
        before = files(folder.parent)
        result = CliRunner().invoke(main, ["report", str(folder)])
        assert result.exception is None or isinstance(result.exception, SystemExit), (folder, result.output)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            assert audit_html((folder / "report.html").read_text(encoding="utf-8")) == []
            assert formula_cells((folder / "report.csv").read_text(encoding="utf-8")) == []
            changed = {p for p, data in files(folder.parent).items() if before.get(p) != data}
            assert changed <= {folder / "report.html", folder / "report.csv"}
        else:
            assert result.output.count("\n") == 1 and str(folder) in result.output, result.output


UPLOAD_NAMES = (
    *(n.rsplit(".", 1)[0] + ".wav" for n in HOSTILE_NAMES),
    "../../x.wav",
    "/etc/passwd.wav",
    "a/../../b.wav",
)


def test_uploads_with_hostile_names_and_contents_leave_nothing(store, people, tmp_path):
    corpus = [p for p in write_corpus(tmp_path / "c") if p.suffix in (".wav", ".mp3", ".flac", ".opus")]
    uploads = [(p.name, p.read_bytes()) for p in corpus] + [(n, b"not audio" * 100) for n in UPLOAD_NAMES]
    outside = files(tmp_path / "c")
    for name, data in uploads:
        try:
            jobs.submit(store, people["ann"], name, data)
        except TrainerError as refused:  # refused at once (an empty file)
            assert name in str(refused)
            continue
        job = jobs.run_next(store)
        assert job.state == "failed" and " ".join(name.split()) in job.error and "\n" not in job.error, job
    assert not [p for p in files(store.data_dir) if p.parent.name in ("incoming", "audio") or "audio" in p.parts]
    assert files(tmp_path / "c") == outside
    assert store.sessions(people["ann"]) == ()
    assert len(uploads) >= 20


@pytest.mark.parametrize("session_id", STORE_IDS, ids=repr)
def test_store_answers_bad_ids_with_no_such_session(store, people, session_id):
    with pytest.raises(AccessDenied, match="does not exist or is not yours"):
        store.session(people["ivy"], session_id)
    with pytest.raises(AccessDenied, match="does not exist or is not yours"):
        store.mark_reviewed(people["ivy"], session_id)


def test_corpus_is_large_enough(scored, broken_outputs):
    _, inputs, _, _, _ = scored
    counted = len(inputs) + len(broken_outputs) + len(UPLOAD_NAMES) + len(STORE_IDS)
    assert counted >= MIN_INPUTS
