"""Score many inputs: find them, run each through the pipeline, keep going on errors.

Each input gets `<stem>.json` in the output folder and one row in `summary.csv`;
a bad input gets an error row with a one-line reason and the batch goes on.
Inputs already scored from the same bytes with the same settings are skipped
(trainer.batch.resume), and several inputs can be scored at once in worker processes,
each loading its models once, or on a Dask cluster (trainer.batch.dask_cluster).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trainer.batch.output import session_from_dict, summary_row, write_session_json, write_summary
from trainer.batch.resume import BatchState, Entry, file_sha256, settings_sha256
from trainer.errors import InputError, TrainerError, one_line
from trainer.pipeline import PipelineOptions, is_transcript, run_session
from trainer.speech.audio import AUDIO_EXTENSIONS
from trainer.speech.transcript_files import TRANSCRIPT_EXTENSIONS

REFERENCE_SUFFIX = ".ref.csv"  # reference annotations beside samples: not inputs
SUMMARY_NAME = "summary.csv"
CRASHED = "the worker process died while scoring it (out of memory, or a crash in a decoder)"
OTHER_BUILD = (
    "the worker runs another build of the trainer (its code or models differ); install the same on every worker"
)

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: one summary row per input, in input order."""

    rows: tuple[dict[str, Any], ...]
    skipped: int = 0  # inputs whose stored result was still current

    @property
    def failed(self) -> tuple[dict[str, Any], ...]:
        """Rows of inputs that could not be scored."""
        return tuple(r for r in self.rows if r["status"] != "ok")


@dataclass(frozen=True)
class Outcome:
    """What scoring one input gave back to the batch (crosses process boundaries)."""

    row: dict[str, Any]  # its summary.csv row
    content: str | None = None  # sha256 of the bytes scored; None when it failed


def is_input(path: Path) -> bool:
    """Whether a file found in a folder is something to score."""
    name = path.name.lower()
    if name.startswith(".") or name.endswith(REFERENCE_SUFFIX) or name == SUMMARY_NAME:
        return False
    return path.suffix.lower() in AUDIO_EXTENSIONS + TRANSCRIPT_EXTENSIONS


def find_inputs(paths: Iterable[str | Path], exclude: Path | None = None) -> list[Path]:
    """Files to score: each file given, and supported files under each folder given.

    Files named explicitly are always kept (so a reference CSV can be scored on
    purpose); folders are searched recursively, skipping `exclude` (the output folder).
    """
    found: list[Path] = []
    skip = exclude.resolve() if exclude else None
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if skip and (skip == f.resolve() or skip in f.resolve().parents):
                    continue
                if f.is_file() and is_input(f):
                    found.append(f)
        else:
            found.append(p)  # missing files get their error row when scored
    return list(dict.fromkeys(found))


def output_names(inputs: Sequence[Path]) -> dict[Path, str]:
    """`<stem>.json` per input; stems shared by several inputs get a short path hash."""
    stems = Counter(p.stem for p in inputs)
    names = {}
    for p in inputs:
        tag = "" if stems[p.stem] == 1 else "-" + hashlib.sha1(str(p).encode()).hexdigest()[:6]
        names[p] = f"{p.stem}{tag}.json"
    return names


def error_row(path: Path, error: BaseException | str) -> dict[str, Any]:
    """The summary row of an input that failed, its reason on one line starting with the path."""
    message = error if isinstance(error, str) else one_line(error)
    if not message.startswith(str(path)):
        message = f"{path}: {message}"
    return summary_row(str(path), error=message)


def check_file(path: Path, name: str) -> None:
    """Refuse, with the same words for audio and transcripts, what is not a file with content.

    Raises:
        InputError: the path is missing, a folder, or an empty file (called `name`).
    """
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if not path.is_file():
        raise InputError(f"{name}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{name}: file is empty")


def score_one(
    path: Path, json_path: Path, options: PipelineOptions, base: Path | None = None, settings: str | None = None
) -> Outcome:
    """Score one input and write its JSON; any failure becomes an error row, never a raise.

    This is what a worker process or a Dask task runs for each input.

    Args:
        path: the input as given; relative to `base` when one is given.
        json_path: where its result goes (absolute when `base` is given).
        options: the pipeline settings.
        base: the working directory of the machine that started the batch, for a worker
            that runs elsewhere and must read the same file whatever its own directory.
        settings: `settings_sha256` of the batch; a worker whose own build gives another
            refuses, as its results would differ from those of every other path.
    """
    where = base / path if base is not None else path
    try:
        if settings is not None and settings_sha256(options) != settings:
            raise InputError(f"{path}: {OTHER_BUILD}")
        check_file(where, str(path))
        content = file_sha256(where)  # before scoring: a file that changes meanwhile is redone next time
        session = run_session(where, options, name=str(path))
        write_session_json(session, json_path)
        return Outcome(summary_row(str(path), session, json_path=json_path.name), content)
    except Exception as e:  # noqa: BLE001 - the edge of a batch: one bad input must not stop the rest
        if not isinstance(e, (TrainerError, OSError)):
            log.debug("unexpected error on %s", path, exc_info=True)
        return Outcome(error_row(path, e))


def warm_up(options: PipelineOptions, audio: bool) -> None:
    """Load the models a worker will need once, before its first input.

    Failures are left for the inputs to report, each with its own error row.
    """
    from trainer.coding import load_coder
    from trainer.speech.transcribe import load_model

    t = options.transcribe
    try:
        load_coder(options.coder)
        if audio:
            load_model(t.model, t.compute_type, t.cpu_threads)
    except (TrainerError, ValueError) as e:
        log.debug("warm-up failed: %s", e)


def _exit_with_parent(parent: multiprocessing.process.BaseProcess) -> None:
    """Wait until the parent process is gone, then end this process at once."""
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(1)


def exit_with_parent() -> None:
    """End this worker as soon as the process that started it dies (kill -9, a crash).

    A worker left behind would go on scoring and writing results for a batch nobody
    collects, holding its models' memory. The parent's sentinel becomes ready when the
    parent is gone, so a thread waiting on it needs no polling; once the workers are gone,
    so is multiprocessing's resource tracker, which exits when the last process using it does.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()


def init_worker(options: PipelineOptions, audio: bool) -> None:
    """Process-pool initializer: tie the worker's life to its parent's, cap native thread pools, load the models."""
    exit_with_parent()
    threads = str(options.transcribe.cpu_threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = threads  # read by torch and onnxruntime when first imported
    warm_up(options, audio)


def worker_options(options: PipelineOptions, workers: int) -> PipelineOptions:
    """Options for one of `workers` processes: the cores shared out, none oversubscribed."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return replace(options, transcribe=replace(options.transcribe, cpu_threads=max(1, cores // workers)))


def _stored_row(path: Path, json_path: Path) -> dict[str, Any] | None:
    """The summary row rebuilt from a stored result, or None if it cannot be read."""
    try:
        session = session_from_dict(json.loads(json_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.debug("%s: stored result unreadable (%s); scoring again", json_path, e)
        return None
    return summary_row(str(path), session, json_path=json_path.name)


def _run_jobs(
    jobs: Sequence[Path],
    submit: Callable[[Path], Future],
    restart: Callable[[], None],
    parallel: int,
    on_outcome: Callable[[Path, Outcome], None],
) -> None:
    """Run jobs with at most `parallel` in flight, surviving workers that die.

    A dead process breaks its whole pool, taking the inputs in flight with it. Those
    are retried later one at a time, so the one that kills its worker again is found
    and reported, and no other input is blamed for it.
    """
    queue, suspects = deque(jobs), deque[Path]()
    in_flight: dict[Future, Path] = {}
    alone = False  # a suspect is running with nothing beside it
    while queue or suspects or in_flight:
        while queue and not alone and len(in_flight) < parallel:
            job = queue.popleft()
            in_flight[submit(job)] = job
        if not in_flight and suspects:
            job, alone = suspects.popleft(), True
            in_flight[submit(job)] = job
        finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        broken = False
        for future in finished:
            job = in_flight.pop(future)
            try:
                outcome = future.result()
            except BrokenExecutor:
                broken = True
                if alone:
                    on_outcome(job, Outcome(error_row(job, CRASHED)))
                else:
                    suspects.append(job)
                continue
            except Exception as e:  # noqa: BLE001 - e.g. a Dask worker lost: that input fails, the batch goes on
                outcome = Outcome(error_row(job, e))
            on_outcome(job, outcome)
        if broken:
            suspects.extend(in_flight.values())
            in_flight.clear()
            restart()
        alone = alone and bool(in_flight)


def score_batch(
    inputs: Sequence[Path],
    out_dir: Path,
    options: PipelineOptions = PipelineOptions(),
    on_done: Callable[[dict[str, Any]], None] | None = None,
    *,
    workers: int = 1,
    executor: Executor | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Score every input, writing JSON files and summary.csv into out_dir.

    Args:
        inputs: files to score (see find_inputs).
        out_dir: folder for `<stem>.json`, summary.csv and the batch state.
        options: pipeline settings; they are part of what makes a stored result current.
        on_done: called with each newly scored input's summary row, as it finishes.
        workers: processes to score in (1: in this process); not used with `executor`.
        executor: where to run instead of local processes, e.g. a Dask client's executor.
        on_plan: called once before scoring with (inputs to score, inputs skipped).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for orphan in out_dir.glob(".*.tmp"):  # half-written files of a run that was killed
        orphan.unlink(missing_ok=True)
    names = output_names(inputs)
    state = BatchState(out_dir)
    settings = settings_sha256(options)
    rows: dict[Path, dict[str, Any]] = {}
    for path in inputs:
        if state.is_current(path, names[path], settings) and (row := _stored_row(path, out_dir / names[path])):
            rows[path] = row
    todo = [p for p in inputs if p not in rows]
    skipped = len(rows)
    if on_plan:
        on_plan(len(todo), skipped)

    def finish(path: Path, outcome: Outcome) -> None:
        json_path = out_dir / names[path]
        if outcome.content is None:
            json_path.unlink(missing_ok=True)  # a stale result must not outlive a failure
            state.record(str(path), None)
        else:
            state.record(str(path), Entry(outcome.content, settings, json_path.name))
        rows[path] = outcome.row
        write_summary([rows[p] for p in inputs if p in rows], out_dir / SUMMARY_NAME)
        if on_done:
            on_done(outcome.row)

    if executor is None and workers <= 1:
        for path in todo:
            finish(path, score_one(path, out_dir / names[path], options))
    elif executor is not None:  # all submitted at once: the executor's scheduler spreads them out
        # Workers elsewhere resolve nothing against their own directory, and check their build.
        base, out = Path.cwd(), out_dir.absolute()

        def submit(p: Path) -> Future:
            return executor.submit(score_one, p, out / names[p], options, base, settings)

        _run_jobs(todo, submit, lambda: None, len(todo), finish)
    else:
        _score_in_processes(todo, out_dir, names, worker_options(options, workers), workers, finish)
    write_summary([rows[p] for p in inputs], out_dir / SUMMARY_NAME)
    return BatchResult(tuple(rows[p] for p in inputs), skipped)


def _score_in_processes(
    todo: Sequence[Path],
    out_dir: Path,
    names: dict[Path, str],
    options: PipelineOptions,
    workers: int,
    finish: Callable[[Path, Outcome], None],
) -> None:
    """Score in a pool of worker processes, each loading its models once."""
    audio = any(not is_transcript(p) for p in todo)
    # spawn: a fresh interpreter per worker, safe whatever threads this process runs.
    context = multiprocessing.get_context("spawn")
    pools: list[ProcessPoolExecutor] = []

    def restart() -> None:
        if pools:
            pools[-1].shutdown(wait=False, cancel_futures=True)
        pools.append(ProcessPoolExecutor(workers, context, init_worker, (options, audio)))

    def submit(path: Path) -> Future:
        return pools[-1].submit(score_one, path, out_dir / names[path], options)

    restart()
    try:
        _run_jobs(todo, submit, restart, workers, finish)
    finally:
        pools[-1].shutdown(cancel_futures=True)
