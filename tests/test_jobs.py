"""Scoring jobs: uploads kept on disk and queued, scored in order, resumed after a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import trainer.app.intake
from tests.conftest import TEST_DATA
from trainer.app import jobs
from trainer.app.intake import rescore
from trainer.app.store import DB_NAME
from trainer.batch.runner import score_batch
from trainer.errors import AccessDenied, AudioError, StoreError, UploadError
from trainer.pipeline import AUDIO_STEPS


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_an_upload_is_on_disk_and_queued_before_it_is_acknowledged(store, people, stereo_path):
    data = stereo_path.read_bytes()
    job = jobs.submit(store, people["ann"], "week1.wav", data).job
    assert job.state == "queued" and job.title == "week1.wav" and job.session_id is None
    (waiting,) = (store.data_dir / "incoming").iterdir()
    assert waiting.read_bytes() == data and waiting.stat().st_mode & 0o077 == 0
    assert jobs.jobs_of(store, people["ann"]) == (job,)
    assert jobs.jobs_of(store, people["bob"]) == ()
    # The same bytes again while it waits: the same job, not a second one.
    assert jobs.submit(store, people["ann"], "copy.wav", data).job == job


def test_a_job_is_scored_and_stored_once(store, people, steps, stereo_path):
    data = stereo_path.read_bytes()
    job = jobs.submit(store, people["ann"], "week1.wav", data).job
    done = jobs.run_next(store)
    assert done.id == job.id and done.state == "done" and done.error is None
    assert steps == ["transcript", "coding", "metrics", "feedback"]
    assert done.steps_done == 4 and done.started_at <= done.finished_at
    stored = store.session(people["ann"], done.session_id)
    assert stored.title == "week1.wav" and stored.document["source"] == "week1.wav"
    assert store.audio_file(stored).read_bytes() == data
    assert list((store.data_dir / "incoming").iterdir()) == []
    again = jobs.submit(store, people["ann"], "copy.wav", data)
    assert again.job is None and again.session.id == stored.id
    assert jobs.run_next(store) is None


def test_unreadable_upload_fails_in_one_line_and_leaves_nothing(store, people):
    jobs.submit(store, people["ann"], "notes.wav", b"this is not audio" * 100)
    failed = jobs.run_next(store)  # the real pipeline: decoding fails before any model loads
    assert failed.state == "failed" and failed.error.startswith("notes.wav: ")
    assert "incoming" not in failed.error and "\n" not in failed.error
    assert store.sessions(people["ann"]) == ()
    assert files_under(store.data_dir) == [DB_NAME]


@pytest.mark.parametrize(
    ("name", "size", "limit", "problem"),
    [
        ("big.wav", 2 * 2**20 + 1, 2, "over the 2 MB upload limit"),
        ("empty.wav", 0, 2, "empty"),
        ("notes.pdf", 10, 2, "not a supported recording or transcript"),
    ],
)
def test_refused_uploads_write_nothing(store, people, name, size, limit, problem):
    with pytest.raises(UploadError, match=problem):
        jobs.submit(store, people["ann"], name, b"\0" * size, limit_mb=limit)
    assert files_under(store.data_dir) == [DB_NAME]


def test_transcripts_are_accepted(store, people, transcript_csv):
    jobs.submit(store, people["ann"], "typed role play.csv", transcript_csv.read_bytes())
    done = jobs.run_next(store)
    assert done.state == "done" and done.audio_s is None
    stored = store.session(people["ann"], done.session_id)
    assert len(stored.document["utterances"]) == 6


def test_jobs_queue_in_order_with_their_place(store, people, steps, stereo_path, jfk_path):
    first = jobs.submit(store, people["ann"], "ann.wav", stereo_path.read_bytes()).job
    second = jobs.submit(store, people["bob"], "bob.wav", jfk_path.read_bytes()).job
    assert [jobs.place_in_queue(store, j) for j in (first, second)] == [1, 2]
    assert jobs.run_next(store).id == first.id
    (second,) = jobs.jobs_of(store, people["bob"])
    assert jobs.place_in_queue(store, second) == 1
    assert jobs.run_next(store).id == second.id


def test_a_job_left_running_is_resumed_first(store, people, steps, stereo_path, jfk_path):
    first = jobs.submit(store, people["ann"], "ann.wav", stereo_path.read_bytes()).job
    jobs.submit(store, people["ann"], "later.wav", jfk_path.read_bytes())
    assert jobs._claim(store).id == first.id  # the server stops here, mid-job
    assert jobs.requeue_interrupted(store) == 1
    (_, resumed) = jobs.jobs_of(store, people["ann"])
    assert resumed.id == first.id and resumed.state == "queued" and resumed.started_at is None
    assert jobs.run_next(store).id == first.id


def test_the_running_step_and_an_estimate_from_measured_speed(store, people, stereo_path):
    job = jobs.submit(store, people["ann"], "week1.wav", stereo_path.read_bytes()).job
    running = jobs._claim(store)
    assert running.running_step == "audio"
    assert jobs.estimate_s(store, running) is None  # length unknown until the recording is read
    with store.transaction() as conn:
        conn.execute("UPDATE jobs SET steps_done = 1, step = 'audio', audio_s = 20 WHERE id = ?", (job.id,))
        # Two finished recordings: 10 s of scoring for 20 s of audio, 30 s for 20 s.
        for took in (10, 30):
            conn.execute(
                "INSERT INTO jobs (owner_id, title, path, content_hash, state, audio_s, created_at, started_at,"
                " finished_at) VALUES (?, 'x.wav', 'x', 'x', 'done', 20, 0, 100, ?)",
                (people["ann"].id, 100 + took),
            )
    (running,) = [j for j in jobs.jobs_of(store, people["ann"]) if j.id == job.id]
    assert running.running_step == "transcribe"
    assert jobs.seconds_per_audio_s(store) == 1.0
    assert jobs.estimate_s(store, running) == 20.0


def test_the_worker_thread_scores_what_is_queued(store, people, steps, stereo_path):
    job = jobs.submit(store, people["ann"], "week1.wav", stereo_path.read_bytes()).job
    worker = jobs.worker_for(store)
    assert jobs.worker_for(store) is worker  # one per data directory
    try:
        worker.wake.set()
        deadline = time.monotonic() + 60
        while jobs.jobs_of(store, people["ann"])[0].state != "done":
            assert time.monotonic() < deadline, "the worker did not score the job"
            time.sleep(0.1)
    finally:
        jobs.stop_workers(timeout_s=60)
    assert not worker.is_alive()
    assert store.sessions(people["ann"])[0].title == "week1.wav" and job.id


def test_rescore_keeps_the_stored_result_when_scoring_fails(store, people, steps, stereo_path, monkeypatch):
    jobs.submit(store, people["ann"], "week1.wav", stereo_path.read_bytes())
    saved = store.session(people["ann"], jobs.run_next(store).session_id)

    def broken(path, options, hook, name):
        raise AudioError(f"{name}: decoder gave up")

    monkeypatch.setattr(trainer.app.intake, "run_session", broken)
    with pytest.raises(AudioError, match="^week1.wav: decoder gave up"):
        rescore(store, people["ivy"], saved.id)
    assert store.session(people["ann"], saved.id).document == saved.document
    with pytest.raises(AccessDenied):
        rescore(store, people["olga"], saved.id)


def test_scoring_again_is_a_queued_job_that_keeps_the_recording(store, people, steps, stereo_path):
    jobs.submit(store, people["ann"], "week1.wav", stereo_path.read_bytes())
    saved = store.session(people["ann"], jobs.run_next(store).session_id)
    recording = store.audio_file(saved)
    store.rename_session(people["ann"], saved.id, "First try", "")
    job = jobs.submit_rescore(store, people["ivy"], saved.id)
    assert job.state == "queued" and job.rescore_of == saved.id and job.owner_id == people["ivy"].id
    assert job.title == "First try" and job.steps == AUDIO_STEPS  # the kind comes from the stored file
    assert jobs.submit_rescore(store, people["ivy"], saved.id) == job  # asked twice: one job
    assert jobs.rescoring(store, saved.id) == job
    with pytest.raises(AccessDenied):
        jobs.submit_rescore(store, people["olga"], saved.id)
    steps.clear()
    done = jobs.run_next(store)
    assert done.id == job.id and done.state == "done" and done.session_id == saved.id
    assert steps[-1] == "feedback" and recording.read_bytes() == stereo_path.read_bytes()
    assert len(store.sessions(people["ann"])) == 1 and store.session(people["ann"], saved.id).document


def test_a_session_whose_recording_is_gone_cannot_be_scored_again(store, people, steps, stereo_path):
    jobs.submit(store, people["ann"], "week1.wav", stereo_path.read_bytes())
    saved = store.session(people["ann"], jobs.run_next(store).session_id)
    store.audio_file(saved).unlink()
    with pytest.raises(StoreError, match="^week1.wav has no recording to score again$"):
        jobs.submit_rescore(store, people["ivy"], saved.id)


def test_the_app_stores_what_the_command_line_writes(tmp_path, store, people):
    """The same real one-microphone recording and settings: the app's job and a batch give one answer."""
    recording = TEST_DATA / "ami" / "trn09.flac"
    score_batch([recording], tmp_path / "plain")
    written = json.loads((tmp_path / "plain" / "trn09.json").read_text())
    jobs.submit(store, people["ann"], "trn09.flac", recording.read_bytes())
    done = jobs.run_next(store)
    assert done.state == "done", done.error
    stored = store.session(people["ann"], done.session_id).document
    assert written["speakers"]["n_speakers"] >= 2  # a real two-voice path, not a trivial one
    assert {**stored, "source": written["source"]} == written
