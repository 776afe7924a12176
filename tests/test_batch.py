"""Batch scoring: resuming, parallel workers, a run killed mid-way, a worker that dies."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from trainer.batch.resume import STATE_NAME
from trainer.batch.runner import CRASHED, Outcome, _run_jobs, find_inputs, score_batch
from trainer.pipeline import PipelineOptions

LINES = (
    ("counsellor", "What brings you in today?"),
    ("client", "My doctor thinks I drink too much, and I suppose she has a point."),
    ("counsellor", "You're worried about what she said."),
    ("client", "A bit. I don't want to end up like my dad."),
    ("counsellor", "Do you drink every day?"),
    ("client", "Most days, yes."),
    ("counsellor", "Part of you enjoys it, and part of you is scared of where it leads."),
)


def write_transcript(path: Path, repeat: int = 1, extra: str = "") -> Path:
    """A small counselling exchange as a CSV transcript (repeated to make it longer)."""
    rows = [("speaker", "text")] + [line for _ in range(repeat) for line in LINES]
    if extra:
        rows.append(("counsellor", extra))
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def results(out: Path) -> dict[str, str]:
    """Every result file of an output folder (not the state), by name, as text."""
    return {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if not p.name.startswith(".")}


def test_rerun_skips_current_results_and_redoes_failed_ones(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_transcript(folder / "good.csv")
    bad = folder / "bad.csv"
    bad.write_text("who,what\nx,y\n")
    out = tmp_path / "out"
    first = score_batch(find_inputs([folder]), out)
    assert [r["status"] for r in first.rows] == ["error", "ok"] and first.skipped == 0
    before = results(out)

    done = []
    again = score_batch(find_inputs([folder]), out, on_done=done.append)
    assert again.skipped == 1
    assert [Path(r["file"]).name for r in done] == ["bad.csv"]  # failed inputs are tried again
    assert results(out) == before
    assert again.rows == first.rows

    write_transcript(bad)  # fixed by the user: scored on the next run
    fixed = score_batch(find_inputs([folder]), out)
    assert [r["status"] for r in fixed.rows] == ["ok", "ok"] and fixed.skipped == 1


def test_changed_content_or_settings_are_scored_again(tmp_path):
    path = write_transcript(tmp_path / "session.csv")
    out = tmp_path / "out"
    score_batch([path], out)
    assert score_batch([path], out).skipped == 1
    write_transcript(path, extra="So you want to feel in control again.")
    changed = score_batch([path], out)
    assert changed.skipped == 0
    assert int(changed.rows[0]["n_utterances"]) == len(LINES) + 1
    assert score_batch([path], out, PipelineOptions(keep_codes=True)).skipped == 0


def test_a_result_that_turns_bad_leaves_no_stale_json(tmp_path):
    path = write_transcript(tmp_path / "session.csv")
    out = tmp_path / "out"
    score_batch([path], out)
    assert (out / "session.json").is_file()
    path.write_text("speaker,text\nnarrator,Once upon a time\n")
    row = score_batch([path], out).rows[0]
    assert row["status"] == "error" and "unknown speaker 'narrator'" in row["error"]
    assert not (out / "session.json").exists()
    assert json.loads((out / STATE_NAME).read_text())["inputs"] == {}


def test_damaged_state_file_only_costs_rescoring(tmp_path):
    path = write_transcript(tmp_path / "session.csv")
    out = tmp_path / "out"
    score_batch([path], out)
    (out / STATE_NAME).write_text("{not json")
    result = score_batch([path], out)
    assert result.skipped == 0 and result.rows[0]["status"] == "ok"


def test_two_workers_give_the_same_results_as_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        write_transcript(folder / f"s{i}.csv", repeat=i + 1)
    (folder / "broken.csv").write_text("")
    one, two = tmp_path / "one", tmp_path / "two"
    serial = score_batch(find_inputs([folder]), one)
    parallel = score_batch(find_inputs([folder]), two, workers=2)
    assert parallel.rows == serial.rows
    assert results(one) == results(two)
    assert parallel.failed[0]["error"].endswith("broken.csv: file is empty")


def test_killed_run_resumes_to_the_same_results(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        write_transcript(folder / f"session{i:02d}.csv", repeat=4)
    command = [sys.executable, "-c", "from trainer.cli import main; main()", "score", str(folder), "--out"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run([*command, str(whole)], check=True, capture_output=True)

    run = subprocess.Popen([*command, str(killed)], stderr=subprocess.DEVNULL, start_new_session=True)
    state = killed / STATE_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        if state.is_file() and len(json.loads(state.read_text())["inputs"]) >= 3:
            break
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert len(results(killed)) < len(results(whole))

    resumed = subprocess.run([*command, str(killed)], check=True, capture_output=True, text=True)
    assert "already scored with these settings: skipped" in resumed.stderr
    assert results(killed) == results(whole)
    assert not [p for p in killed.iterdir() if p.name.endswith(".tmp")]


def _score_or_die(path: Path) -> Outcome:
    """Stand-in for score_one: the input named 'crash' kills its worker process."""
    if path.name == "crash":
        os._exit(1)
    time.sleep(0.05)
    return Outcome({"file": str(path), "status": "ok"}, content="x")


def test_a_worker_that_dies_is_blamed_alone_and_the_batch_goes_on():
    jobs = [Path(name) for name in ("a", "b", "crash", "c", "d", "e")]
    context = multiprocessing.get_context("fork")  # the stand-in lives in this test module
    pools = [ProcessPoolExecutor(2, context)]

    def restart():
        pools[-1].shutdown(wait=False)
        pools.append(ProcessPoolExecutor(2, context))

    outcomes = {}
    _run_jobs(jobs, lambda p: pools[-1].submit(_score_or_die, p), restart, 2, lambda p, o: outcomes.update({p: o}))
    pools[-1].shutdown()
    assert set(outcomes) == set(jobs)
    assert outcomes[Path("crash")].row["error"] == f"crash: {CRASHED}"
    assert all(outcomes[p].row["status"] == "ok" for p in jobs if p.name != "crash")
