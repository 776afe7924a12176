"""Scoring as background jobs: uploads and rescorings queue in the store and one worker thread scores them.

An upload is written to `incoming/` and flushed to disk, then its job row is committed, and
only then is it acknowledged, so a recording the page has accepted survives a crash. A
worker thread in the server process takes queued jobs oldest first, records the step
that is running (the pipeline's hook reports each finished step), and saves the session
(`Store.add_session` moves the recording in) or a one-line error. A job left `running` by a
server that stopped is queued again when the next worker starts, ahead of newer ones.
Estimates come from the recording's length times the speed measured on finished jobs.
Scoring a stored recording again with current models is a job too (`rescore_of` names the
session); it replaces the session's result and leaves the recording where it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.app.accounts import User
from trainer.app.intake import check_upload, max_upload_mb, recording_of, rescore, score_file
from trainer.app.review import StoredSession
from trainer.app.store import INCOMING_DIR, Store
from trainer.errors import TrainerError, one_line
from trainer.pipeline import AUDIO_STEPS, TRANSCRIPT_STEPS, PipelineOptions, is_transcript

DEFAULT_SECONDS_PER_AUDIO_S = 0.5  # before any job has finished: tiny.en on a busy 2-core machine
DEFAULT_TRANSCRIPT_S = 5.0  # a transcript needs no Whisper: loading the coder dominates
SPEED_SAMPLE = 20  # finished jobs the speed is measured on
POLL_S = 1.0  # how often an idle worker looks for work another process queued

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class Job:
    """A queued, running or finished scoring of one upload."""

    id: int
    owner_id: int
    title: str  # the name the file was uploaded as; the session's name when it is scored again
    path: str  # the file scored, relative to the data directory (its extension tells the kind)
    state: str  # queued, running, done or failed
    step: str | None  # the last step the pipeline finished
    steps_done: int
    audio_s: float | None  # the recording's length, known once it has been read
    created_at: float  # Unix times
    started_at: float | None
    finished_at: float | None
    error: str | None
    session_id: int | None  # the stored session, once done
    rescore_of: int | None  # the session scored again; None for an upload

    @property
    def steps(self) -> tuple[str, ...]:
        """The pipeline's steps for this kind of input."""
        return TRANSCRIPT_STEPS if is_transcript(self.path) else AUDIO_STEPS

    @property
    def running_step(self) -> str | None:
        """The step being worked on now (the one after the last finished)."""
        if self.state != "running" or self.steps_done >= len(self.steps):
            return None
        return self.steps[self.steps_done]


@dataclass(frozen=True)
class Submitted:
    """What an upload became: a new job, or the session the same bytes already made."""

    job: Job | None
    session: StoredSession | None


def _job(row: Any) -> Job:
    return Job(**{name: row[name] for name in Job.__dataclass_fields__})


def _write_durably(path: Path, data: bytes) -> None:
    """Write a new file and make it (and its name in the folder) survive a power cut."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def submit(store: Store, owner: User, filename: str, data: bytes, limit_mb: int | None = None) -> Submitted:
    """Queue an upload for scoring, once it is safely on disk.

    Raises:
        UploadError: the upload is refused (too large, empty, not a supported format); nothing is kept.
    """
    suffix = check_upload(filename, len(data), max_upload_mb() if limit_mb is None else limit_mb)
    digest = hashlib.sha256(data).hexdigest()
    existing = store.find_session(owner, digest)
    if existing is not None:
        return Submitted(None, existing)
    with store.transaction(write=False) as conn:
        row = conn.execute(
            "SELECT * FROM jobs WHERE owner_id = ? AND content_hash = ? AND state IN ('queued', 'running')",
            (owner.id, digest),
        ).fetchone()
    if row is not None:
        return Submitted(_job(row), None)
    relative = Path(INCOMING_DIR, f"job-{secrets.token_hex(8)}{suffix}")
    _write_durably(store.incoming_dir / relative.name, data)
    try:
        with store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (owner_id, title, path, content_hash, state, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (owner.id, filename, relative.as_posix(), digest, "queued", time.time()),
            )
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (cur.lastrowid,)).fetchone()
    except BaseException:
        (store.data_dir / relative).unlink(missing_ok=True)
        raise
    return Submitted(_job(row), None)


def submit_rescore(store: Store, viewer: User, session_id: int) -> Job:
    """Queue scoring a stored recording again with the current models; corrections stay.

    Raises:
        AccessDenied: the viewer may not see the session.
        StoreError: the session has no recording.
    """
    stored, _ = recording_of(store, viewer, session_id)
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT * FROM jobs WHERE rescore_of = ? AND state IN ('queued', 'running')", (session_id,)
        ).fetchone()
        if row is None:
            row = conn.execute(
                "INSERT INTO jobs (owner_id, title, path, content_hash, state, created_at, rescore_of)"
                " VALUES (?, ?, ?, ?, 'queued', ?, ?) RETURNING *",
                (viewer.id, stored.title, stored.audio_path, stored.content_hash, time.time(), session_id),
            ).fetchone()
    return _job(row)


def rescoring(store: Store, session_id: int) -> Job | None:
    """The latest job that scores this session again, if any."""
    with store.transaction(write=False) as conn:
        row = conn.execute("SELECT * FROM jobs WHERE rescore_of = ? ORDER BY id DESC LIMIT 1", (session_id,)).fetchone()
    return _job(row) if row else None


def jobs_of(store: Store, owner: User, limit: int = 10) -> tuple[Job, ...]:
    """The owner's latest jobs, newest first."""
    with store.transaction(write=False) as conn:
        rows = conn.execute("SELECT * FROM jobs WHERE owner_id = ? ORDER BY id DESC LIMIT ?", (owner.id, limit))
        return tuple(map(_job, rows.fetchall()))


def place_in_queue(store: Store, job: Job) -> int:
    """1 for the next job to be scored; counts every user's jobs waiting or running before it."""
    with store.transaction(write=False) as conn:
        ahead = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND id < ?", (job.id,)
        ).fetchone()[0]
    return ahead + 1


def seconds_per_audio_s(store: Store) -> float:
    """Scoring seconds per second of audio, the median of the latest finished recordings."""
    with store.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT (finished_at - started_at) / audio_s FROM jobs WHERE state = 'done' AND audio_s > 0"
            " ORDER BY id DESC LIMIT ?",
            (SPEED_SAMPLE,),
        ).fetchall()
    return statistics.median(r[0] for r in rows) if rows else DEFAULT_SECONDS_PER_AUDIO_S


def estimate_s(store: Store, job: Job) -> float | None:
    """Expected seconds from start to finish: audio length times measured speed; None until known."""
    if is_transcript(job.title):
        return DEFAULT_TRANSCRIPT_S
    return job.audio_s * seconds_per_audio_s(store) if job.audio_s else None


def requeue_interrupted(store: Store) -> int:
    """Queue again the jobs a stopped server left running; how many there were."""
    with store.transaction() as conn:
        return conn.execute(
            "UPDATE jobs SET state = 'queued', step = NULL, steps_done = 0, started_at = NULL WHERE state = 'running'"
        ).rowcount


def _claim(store: Store) -> Job | None:
    with store.transaction() as conn:
        row = conn.execute(
            "UPDATE jobs SET state = 'running', started_at = ? WHERE id ="
            " (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1) RETURNING *",
            (time.time(),),
        ).fetchone()
    return _job(row) if row else None


def _finish(store: Store, job_id: int, state: str, error: str | None = None, session_id: int | None = None) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE jobs SET state = ?, error = ?, session_id = ?, finished_at = ? WHERE id = ?",
            (state, error, session_id, time.time(), job_id),
        )


def run_next(store: Store, options: PipelineOptions | None = None) -> Job | None:
    """Score the oldest queued job, if any; the job as it ended."""
    job = _claim(store)
    if job is None:
        return None
    with store.transaction(write=False) as conn:
        row = conn.execute("SELECT content_hash FROM jobs WHERE id = ?", (job.id,)).fetchone()
        owner = store.user(job.owner_id)

    def hook(step: str, artifact: Any, *, completed: int, total: int) -> None:
        audio_s = getattr(artifact, "duration_s", None) if step == "audio" else None
        with store.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET step = ?, steps_done = ?, audio_s = COALESCE(?, audio_s) WHERE id = ?",
                (step, completed, audio_s, job.id),
            )

    path = store.data_dir / job.path
    try:
        if job.rescore_of is not None:
            stored = rescore(store, owner, job.rescore_of, options, hook)
        else:
            stored = score_file(store, owner, job.title, path, row["content_hash"], options, hook)
    except TrainerError as e:
        _finish(store, job.id, "failed", one_line(e))
    except Exception as e:  # noqa: BLE001 - one broken upload must not stop the worker for everyone
        log.exception("scoring job %s failed", job.id)
        _finish(store, job.id, "failed", f"{job.title}: scoring failed unexpectedly ({one_line(e)})")
    else:
        _finish(store, job.id, "done", session_id=stored.id)
    finally:
        if job.rescore_of is None:
            path.unlink(missing_ok=True)  # moved into the store on success
    with store.transaction(write=False) as conn:
        return _job(conn.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)).fetchone())


class Worker(threading.Thread):
    """The server's scoring thread: one job at a time, woken by `wake` or every POLL_S."""

    def __init__(self, store: Store, options: PipelineOptions = PipelineOptions()) -> None:
        super().__init__(name="trainer-scoring", daemon=True)
        self.store = store
        self.options = options
        self.wake = threading.Event()
        self.stopping = False

    def run(self) -> None:
        """Resume what a stopped server left, then score jobs as they come."""
        requeue_interrupted(self.store)
        while not self.stopping:
            try:
                busy = run_next(self.store, self.options) is not None
            except Exception:  # noqa: BLE001 - a store hiccup (disk full, lock) must not end the worker
                log.exception("scoring worker")
                busy = False
            if not busy:
                self.wake.wait(POLL_S)
                self.wake.clear()


_workers: dict[Path, Worker] = {}
_workers_lock = threading.Lock()


def worker_for(store: Store) -> Worker:
    """The one scoring worker of this process for a data directory, started on first use."""
    key = store.data_dir.resolve()
    with _workers_lock:
        worker = _workers.get(key)
        if worker is None or not worker.is_alive():
            worker = _workers[key] = Worker(store)
            worker.start()
    return worker


def stop_workers(timeout_s: float | None = None) -> None:
    """Let every worker finish its current job and end (server shutdown)."""
    with _workers_lock:
        workers = list(_workers.values())
        _workers.clear()
    for worker in workers:
        worker.stopping = True
        worker.wake.set()
    for worker in workers:
        worker.join(timeout_s)
