"""The session store and intake: persistence, access checks, all-or-nothing saving."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import trainer.app.intake
from trainer.app import jobs
from trainer.app.migrations import MIGRATIONS, SCHEMA_VERSION
from trainer.app.review import Comment, Correction
from trainer.app.store import DB_NAME, DEFAULT_DATA_DIR, Store, default_data_dir
from trainer.batch.output import session_to_dict
from trainer.errors import AccessDenied, StoreError, UploadError
from trainer.pipeline import run_session
from trainer.schema import Code


@pytest.fixture
def document(transcript_csv) -> dict:
    """A real scored session (the default coder on a real transcript)."""
    return session_to_dict(run_session(transcript_csv))


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_created_on_first_use_with_current_schema(tmp_path):
    store = Store(tmp_path / "new" / "dir")
    assert store.db_path == tmp_path / "new" / "dir" / DB_NAME and store.db_path.is_file()
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    Store(tmp_path / "new" / "dir")  # reopening migrates nothing and keeps working


def test_newer_schema_is_refused(tmp_path):
    Store(tmp_path)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer version"):
        Store(tmp_path)


def test_data_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINER_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"
    assert Store().data_dir == tmp_path / "elsewhere"
    monkeypatch.delenv("TRAINER_DATA_DIR")
    assert default_data_dir() == DEFAULT_DATA_DIR


def test_session_round_trip_and_audio_moved_in(store, people, document, stereo_path):
    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes(stereo_path.read_bytes())
    saved = store.add_session(people["ann"], "week 1.wav", document, "ab" * 32, audio=incoming)
    assert saved.document == document and saved.title == "week 1.wav" and saved.owner == people["ann"]
    assert not incoming.exists()
    assert store.audio_file(saved).read_bytes() == stereo_path.read_bytes()
    assert store.audio_file(saved).is_relative_to(store.data_dir)
    assert store.find_session(people["ann"], "ab" * 32) == saved
    assert store.find_session(people["bob"], "ab" * 32) is None


def test_access_is_checked_on_every_read_and_write(store, people, document):
    ann_session = store.add_session(people["ann"], "ann.wav", document, "a" * 64)
    bob_session = store.add_session(people["bob"], "bob.wav", document, "b" * 64)
    ann, bob, ivy, olga = (people[n] for n in ("ann", "bob", "ivy", "olga"))
    assert [s.id for s in store.sessions(ann)] == [ann_session.id]
    assert [s.id for s in store.sessions(ivy)] == [ann_session.id, bob_session.id]
    assert store.sessions(olga) == ()
    assert store.session(ivy, ann_session.id) == ann_session
    for viewer in (bob, olga):
        with pytest.raises(AccessDenied, match="not yours to open"):
            store.session(viewer, ann_session.id)
    with pytest.raises(AccessDenied):
        store.session(ann, 999)
    fix = {0: Correction(0, "What brings you here today?", code=Code.CLOSED_QUESTION)}
    for viewer in (ann, bob, olga):  # trainees cannot correct, not even their own session
        with pytest.raises(AccessDenied, match="not yours to review"):
            store.set_corrections(viewer, ann_session.id, fix)
        with pytest.raises(AccessDenied):
            store.add_comment(viewer, ann_session.id, "hello")
    assert store.session(ivy, ann_session.id).corrections == ()
    assert {u.name for u in store.users(ivy)} == {"ann", "bob", "ivy"}
    assert store.users(ann) == (ann,)


def test_failed_save_leaves_nothing(store, people, document, tmp_path):
    with pytest.raises(FileNotFoundError):  # the audio move fails inside the transaction
        store.add_session(people["ann"], "lost.wav", document, "c" * 64, audio=store.incoming_dir / "missing.wav")
    assert store.sessions(people["ann"]) == ()
    assert files_under(store.data_dir) == [DB_NAME]


def test_corrections_and_comments_survive_rescoring(store, people, document):
    ivy = people["ivy"]
    saved = store.add_session(people["ann"], "ann.wav", document, "d" * 64)
    store.set_corrections(
        ivy,
        saved.id,
        {
            4: Correction(4, "Do you drink every day?", 18.5, code=Code.OPEN_QUESTION, comment="try an open one"),
            2: Correction(2, "You're not sure you agree with her.", 10.0, comment="nice"),
        },
    )
    store.add_comment(ivy, saved.id, "Good pacing overall. ")
    # Re-scoring found one more utterance at the start and heard utterance 2 differently.
    utterances = document["utterances"]
    changed = dict(utterances[2], text="You are not sure you agree.")
    extra = dict(utterances[1], text="Hello.", start=0.0, end=0.5)
    rescored = dict(document, utterances=[extra, *utterances[:2], changed, *utterances[3:]])
    after = store.replace_document(ivy, saved.id, rescored)
    assert after.document == rescored
    by_text = {c.text: c for c in after.corrections}
    assert by_text["Do you drink every day?"].index == 5  # followed its utterance
    assert (
        by_text["Do you drink every day?"].code is Code.OPEN_QUESTION
        and by_text["Do you drink every day?"].author == "ivy"
    )
    assert by_text["You're not sure you agree with her."].index is None  # kept, but no longer applies
    assert after.comments == (Comment("ivy", "Good pacing overall.", after.comments[0].created_at),)
    assert after.reviewed_by == "ivy" and after.reviewed_at


def test_removing_a_correction(store, people, document):
    saved = store.add_session(people["ann"], "ann.wav", document, "e" * 64)
    fix = Correction(0, "What brings you here today?", 0.0, code=Code.CLOSED_QUESTION)
    store.set_corrections(people["ivy"], saved.id, {0: fix})
    assert [c.code for c in store.session(people["ann"], saved.id).corrections] == [Code.CLOSED_QUESTION]
    store.set_corrections(people["ivy"], saved.id, {0: None})
    assert store.session(people["ann"], saved.id).corrections == ()


def test_upload_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRAINER_MAX_UPLOAD_MB", "5")
    assert trainer.app.intake.max_upload_mb() == 5
    monkeypatch.setenv("TRAINER_MAX_UPLOAD_MB", "lots")
    with pytest.raises(UploadError, match="whole number"):
        trainer.app.intake.max_upload_mb()


def test_rename_and_tag_a_session(store, people, document):
    ann, ivy = people["ann"], people["ivy"]
    saved = store.add_session(ann, "Recording 2026-01-05 10:00.wav", document, "a" * 64)
    assert saved.scenario == "" and store.scenarios(ann) == ()
    renamed = store.rename_session(ann, saved.id, "  Week 1  role play ", " alcohol,  ambivalent client ")
    assert (renamed.title, renamed.scenario) == ("Week 1 role play", "alcohol, ambivalent client")
    store.rename_session(ivy, saved.id, "Week 1 role play", "Alcohol, ambivalent client")  # her instructor may
    assert store.scenarios(ann) == store.scenarios(ivy) == ("Alcohol, ambivalent client",)
    assert store.scenarios(people["bob"]) == () and store.scenarios(people["olga"]) == ()
    with pytest.raises(AccessDenied):
        store.rename_session(people["bob"], saved.id, "mine now", "")
    with pytest.raises(StoreError, match="^a session needs a name$"):
        store.rename_session(ann, saved.id, "   ", "smoking")
    with pytest.raises(StoreError, match="at most 120 characters"):
        store.rename_session(ann, saved.id, "ok", "x" * 121)
    assert store.session(ann, saved.id).title == "Week 1 role play"


def test_a_store_from_before_scenarios_keeps_its_sessions(tmp_path, document):
    """A data directory of schema 3 (before scenarios and rescoring jobs) opens with nothing lost."""
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        for number, script in enumerate(MIGRATIONS[:3], start=1):
            conn.executescript(script)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("INSERT INTO users VALUES (1, 'ann', 'trainee', 'spring', 'x', '2026-01-01')")
        conn.execute(
            "INSERT INTO sessions (id, owner_id, title, created_at, content_hash, document, scored_at)"
            " VALUES (1, 1, 'old.wav', '2026-01-02', ?, ?, '2026-01-02')",
            ("a" * 64, json.dumps(document)),
        )
        conn.execute(
            "INSERT INTO jobs (owner_id, title, path, content_hash, state, created_at, session_id)"
            " VALUES (1, 'old.wav', 'incoming/x.wav', ?, 'done', 0, 1)",
            ("a" * 64,),
        )
    store = Store(tmp_path)
    ann, _ = store.credentials("ann")
    old = store.session(ann, 1)
    assert (old.title, old.scenario, old.document) == ("old.wav", "", document)
    (job,) = jobs.jobs_of(store, ann)
    assert job.session_id == 1 and job.rescore_of is None
