"""The store: users, scored sessions and instructors' corrections in one local SQLite file.

The data directory (`TRAINER_DATA_DIR`, default the user's data folder) is created on first use and is
the only place the trainer writes to:

    trainer.db                        users, sessions, corrections, comments
    audio/<user id>/<hash><ext>       recordings, moved in only when their session is saved
    incoming/                         uploads while they are scored, removed whatever happens
    voices/<user id>.npy              trainees' voice profiles (trainer/app/voices.py)

A session's automatic result (the JSON document of `output.session_to_dict`) and the
instructors' corrections sit in separate tables: re-scoring replaces the first and never
the second. Every read and write takes the acting user and checks access here
(`accounts.can_view`, `accounts.can_review`), so the app cannot forget to.
"""

from __future__ import annotations

import json
import os
import re
import reprlib
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from trainer.app.accounts import User, UserRole, can_review, can_view
from trainer.app.migrations import MIGRATIONS, SCHEMA_VERSION
from trainer.app.review import Comment, Correction, StoredSession, apply_corrections, locate
from trainer.batch.output import json_text, session_from_dict
from trainer.errors import AccessDenied, AuthError, StoreError
from trainer.schema import Code, Role

DATA_DIR_ENV = "TRAINER_DATA_DIR"
DEFAULT_DATA_DIR = Path(platformdirs.user_data_dir("listening-trainer"))  # e.g. ~/.local/share/listening-trainer
DB_NAME = "trainer.db"
AUDIO_DIR = "audio"
INCOMING_DIR = "incoming"
MAX_ID = 2**63 - 1  # SQLite's largest integer
_ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")  # at most 19 digits: never more than int() needs to check

MAX_NAME = 120  # characters of a session's name or scenario: a label, not a note

_SESSION_SELECT = """
    SELECT s.*, u.name AS owner_name, u.role AS owner_role, u.cohort AS owner_cohort, r.name AS reviewer
    FROM sessions s JOIN users u ON u.id = s.owner_id LEFT JOIN users r ON r.id = s.reviewed_by
"""
_CORRECTIONS_SELECT = """
    SELECT c.*, u.name AS author FROM corrections c JOIN users u ON u.id = c.author_id
    WHERE c.session_id = ? ORDER BY c.id
"""


def valid_id(value: object) -> int | None:
    """A row id as the store takes it: an int (not a bool) from 1 to SQLite's largest, else None.

    Ids come from URLs and callers; a float, a bool or a string is not taken as the id it
    resembles, and one beyond SQLite's range is no id rather than an OverflowError.
    """
    return value if type(value) is int and 1 <= value <= MAX_ID else None


def parse_id(text: str) -> int | None:
    """An id written in a URL (`?session=12`): plain ASCII digits without a leading zero, else None."""
    return valid_id(int(text)) if _ID_TEXT.fullmatch(text) else None


def default_data_dir() -> Path:
    """Where data lives unless told otherwise: $TRAINER_DATA_DIR, else the user's data folder.

    Not the working directory: an installed trainer may be started from anywhere.
    """
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def now() -> str:
    """The current time as stored: ISO 8601, UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _user(row: sqlite3.Row, owner: bool = False) -> User:
    """The user in a users row, or the owner in a session row."""
    if owner:
        return User(row["owner_id"], row["owner_name"], UserRole(row["owner_role"]), row["owner_cohort"])
    return User(row["id"], row["name"], UserRole(row["role"]), row["cohort"])


class Store:
    """Access to one data directory; cheap to create, safe to share between threads."""

    def __init__(self, data_dir: str | Path | None = None) -> None:
        """Open (creating on first use) the store in `data_dir`.

        Raises:
            StoreError: the directory or database cannot be used by this version.
        """
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._make_private()
            self._migrate()
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{self.data_dir}: cannot open the session store ({e})") from e

    def _make_private(self) -> None:
        """Only the owner may read: the directory 0700, the database and SQLite's side files 0600.

        Password hashes and transcripts live here. Files made by earlier versions (0644)
        are closed up too. SQLite gives its journal, WAL and shared-memory files the
        database's own permissions, so creating the database 0600 covers those it makes later.
        """
        os.chmod(self.data_dir, 0o700)
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is an empty database
        for path in (self.db_path, *self.data_dir.glob(f"{DB_NAME}-*")):
            os.chmod(path, 0o600)

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.data_dir / DB_NAME

    @property
    def incoming_dir(self) -> Path:
        """Where uploads wait while they are scored (inside the data directory)."""
        path = self.data_dir / INCOMING_DIR
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def transaction(self, write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """A transaction for the modules that keep their own tables here (sign-ins, jobs)."""
        return self._transaction(write)

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """All or nothing: commit when the block ends normally, roll back otherwise."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _migrate(self) -> None:
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.db_path}: made by a newer version of the trainer (schema {version})")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    # Users

    def add_user(self, name: str, role: UserRole, cohort: str, password_hash: str) -> User:
        """Create an account (see `accounts.register`, which hashes the password).

        Raises:
            AuthError: the name is taken.
        """
        try:
            with self._transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO users (name, role, cohort, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    (name, role.value, cohort, password_hash, now()),
                )
        except sqlite3.IntegrityError as e:
            raise AuthError(f"user {name!r} already exists") from e
        return User(cur.lastrowid, name, role, cohort)

    def credentials(self, name: str) -> tuple[User, str] | None:
        """A user and their password hash, for `accounts.login` only."""
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return (_user(row), row["password_hash"]) if row else None

    def user(self, user_id: int) -> User:
        """An account by id, for work done on its owner's behalf (a queued scoring job).

        Raises:
            AuthError: no such account.
        """
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise AuthError(f"no account with id {user_id}")
        return _user(row)

    def failed_sign_ins(self, keys: tuple[str, ...]) -> list[tuple[int, float]]:
        """(failures in a row, Unix time of the last) for each sign-in throttle key that has any."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT failures, last_at FROM login_failures WHERE key IN ({', '.join('?' * len(keys))})", keys
            ).fetchall()
        return [(r["failures"], r["last_at"]) for r in rows]

    def record_sign_in(self, keys: tuple[str, ...], failed: bool, now: float) -> None:
        """Count a failed sign-in against each throttle key, or clear the keys after a success."""
        with self._transaction() as conn:
            for key in keys:
                if failed:
                    conn.execute(
                        "INSERT INTO login_failures (key, failures, last_at) VALUES (?, 1, ?)"
                        " ON CONFLICT (key) DO UPDATE SET failures = failures + 1, last_at = excluded.last_at",
                        (key, now),
                    )
                else:
                    conn.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    def has_users(self) -> bool:
        """Whether any account exists yet (a new install has none)."""
        with self._transaction(write=False) as conn:
            return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def users(self, viewer: User) -> tuple[User, ...]:
        """Accounts the viewer may see: an instructor's cohort, or a trainee alone."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM users WHERE cohort = ? ORDER BY name", (viewer.cohort,)).fetchall()
        return tuple(u for u in map(_user, rows) if can_view(viewer, u))

    # Sessions

    def add_session(
        self, owner: User, title: str, document: Mapping[str, Any], content_hash: str, audio: Path | None = None
    ) -> StoredSession:
        """Save a scored session, moving its recording into the data directory, all or nothing.

        `audio` must lie inside the data directory (see `incoming_dir`) so the move is a rename.
        """
        dest = None
        try:
            with self._transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO sessions (owner_id, title, created_at, content_hash, document, scored_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (owner.id, title, now(), content_hash, json_text(document, indent=None), now()),
                )
                session_id = cur.lastrowid
                if audio is not None:
                    relative = Path(AUDIO_DIR, str(owner.id), f"{content_hash[:16]}{audio.suffix.lower()}")
                    dest = self.data_dir / relative
                    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    os.replace(audio, dest)
                    conn.execute("UPDATE sessions SET audio_path = ? WHERE id = ?", (relative.as_posix(), session_id))
        except BaseException:
            if dest is not None:
                dest.unlink(missing_ok=True)
            raise
        return self.session(owner, session_id)

    def find_session(self, owner: User, content_hash: str) -> StoredSession | None:
        """The owner's session of these exact bytes, if they uploaded them before."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT id FROM sessions WHERE owner_id = ? AND content_hash = ?", (owner.id, content_hash)
            ).fetchone()
        return self.session(owner, row["id"]) if row else None

    def session(self, viewer: User, session_id: int) -> StoredSession:
        """One session, if the viewer may see it.

        Raises:
            AccessDenied: it does not exist or is not the viewer's to see (the message
                does not say which, so ids cannot be probed).
        """
        with self._transaction(write=False) as conn:
            return self._load(conn, viewer, session_id)

    def sessions(self, viewer: User) -> tuple[StoredSession, ...]:
        """Every session the viewer may see, oldest first."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                _SESSION_SELECT + " WHERE u.cohort = ? ORDER BY s.created_at, s.id", (viewer.cohort,)
            ).fetchall()
            return tuple(self._build(conn, row) for row in rows if can_view(viewer, _user(row, owner=True)))

    def scenarios(self, viewer: User) -> tuple[str, ...]:
        """The scenarios the viewer's sessions are tagged with, alphabetically (to tag the next one alike)."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT DISTINCT s.scenario, s.owner_id, u.name AS owner_name, u.role AS owner_role,"
                " u.cohort AS owner_cohort FROM sessions s JOIN users u ON u.id = s.owner_id"
                " WHERE u.cohort = ? AND s.scenario != ''",
                (viewer.cohort,),
            ).fetchall()
        return tuple(sorted({r["scenario"] for r in rows if can_view(viewer, _user(r, owner=True))}, key=str.lower))

    def audio_file(self, stored: StoredSession) -> Path | None:
        """The absolute path of a session's recording, if it has one."""
        return self.data_dir / stored.audio_path if stored.audio_path else None

    def replace_document(self, viewer: User, session_id: int, document: Mapping[str, Any]) -> StoredSession:
        """Store a re-scored result; corrections stay and are re-anchored to the new utterances."""
        utterances = session_from_dict(document).utterances
        with self._transaction() as conn:
            stored = self._load(conn, viewer, session_id)
            conn.execute(
                "UPDATE sessions SET document = ?, scored_at = ? WHERE id = ?",
                (json_text(document, indent=None), now(), session_id),
            )
            ids = [r["id"] for r in conn.execute(_CORRECTIONS_SELECT, (session_id,))]
            conn.execute("UPDATE corrections SET utterance_index = NULL WHERE session_id = ?", (session_id,))
            for row_id, index in zip(ids, locate(stored.corrections, utterances)):
                conn.execute("UPDATE corrections SET utterance_index = ? WHERE id = ?", (index, row_id))
            return self._load(conn, viewer, session_id)

    def rename_session(self, viewer: User, session_id: int, title: str, scenario: str) -> StoredSession:
        """Give a session a new name and scenario tag (its owner or their instructor).

        Raises:
            AccessDenied: the viewer may not see the session.
            StoreError: the name is empty, or the name or scenario is too long.
        """
        title, scenario = " ".join(title.split()), " ".join(scenario.split())
        if not title:
            raise StoreError("a session needs a name")
        if max(len(title), len(scenario)) > MAX_NAME:
            raise StoreError(f"names and scenarios are at most {MAX_NAME} characters")
        with self._transaction() as conn:
            self._load(conn, viewer, session_id)
            conn.execute("UPDATE sessions SET title = ?, scenario = ? WHERE id = ?", (title, scenario, session_id))
            return self._load(conn, viewer, session_id)

    # Review

    def set_corrections(self, viewer: User, session_id: int, changes: Mapping[int, Correction | None]) -> None:
        """Store or (None) remove the corrections of utterances by index; marks the session reviewed.

        Raises:
            AccessDenied: the viewer is not an instructor of the session's cohort.
            ReviewError: a corrected subcode does not fit its utterance; nothing is stored.
        """
        with self._transaction() as conn:
            stored = self._load(conn, viewer, session_id, review=True)
            apply_corrections(session_from_dict(stored.document), [c for c in changes.values() if c is not None])
            for index, c in changes.items():
                conn.execute(
                    "DELETE FROM corrections WHERE session_id = ? AND utterance_index = ?", (session_id, index)
                )
                if c is not None:
                    conn.execute(
                        "INSERT INTO corrections (session_id, utterance_index, text, start, speaker, code, comment,"
                        " author_id, created_at, subcode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            session_id,
                            index,
                            c.text,
                            c.start,
                            c.speaker and c.speaker.value,
                            c.code and c.code.value,
                            c.comment,
                            viewer.id,
                            now(),
                            c.subcode,
                        ),
                    )
            self._mark_reviewed(conn, viewer, session_id)

    def add_comment(self, viewer: User, session_id: int, text: str) -> None:
        """Add an instructor's comment on the whole session; marks it reviewed."""
        with self._transaction() as conn:
            self._load(conn, viewer, session_id, review=True)
            conn.execute(
                "INSERT INTO comments (session_id, author_id, text, created_at) VALUES (?, ?, ?, ?)",
                (session_id, viewer.id, text.strip(), now()),
            )
            self._mark_reviewed(conn, viewer, session_id)

    def mark_reviewed(self, viewer: User, session_id: int) -> None:
        """Record that an instructor checked the session (also when nothing needed correcting)."""
        with self._transaction() as conn:
            self._load(conn, viewer, session_id, review=True)
            self._mark_reviewed(conn, viewer, session_id)

    @staticmethod
    def _mark_reviewed(conn: sqlite3.Connection, viewer: User, session_id: int) -> None:
        conn.execute(
            "UPDATE sessions SET reviewed_by = ?, reviewed_at = ? WHERE id = ?", (viewer.id, now(), session_id)
        )

    # Loading

    def _load(self, conn: sqlite3.Connection, viewer: User, session_id: int, review: bool = False) -> StoredSession:
        """The session if the viewer may open (or review) it; every method that takes an id comes here first."""
        valid = valid_id(session_id)
        row = None if valid is None else conn.execute(_SESSION_SELECT + " WHERE s.id = ?", (valid,)).fetchone()
        allowed = can_review if review else can_view
        if row is None or not allowed(viewer, _user(row, owner=True)):
            action = "review" if review else "open"
            raise AccessDenied(f"session {reprlib.repr(session_id)} does not exist or is not yours to {action}")
        return self._build(conn, row)

    def _build(self, conn: sqlite3.Connection, row: sqlite3.Row) -> StoredSession:
        corrections = tuple(
            Correction(
                r["utterance_index"],
                r["text"],
                r["start"],
                Role(r["speaker"]) if r["speaker"] else None,
                Code(r["code"]) if r["code"] else None,
                r["comment"],
                r["author"],
                r["created_at"],
                r["subcode"],
            )
            for r in conn.execute(_CORRECTIONS_SELECT, (row["id"],))
        )
        comments = tuple(
            Comment(r["author"], r["text"], r["created_at"])
            for r in conn.execute(
                "SELECT c.*, u.name AS author FROM comments c JOIN users u ON u.id = c.author_id"
                " WHERE session_id = ? ORDER BY c.id",
                (row["id"],),
            )
        )
        return StoredSession(
            id=row["id"],
            owner=_user(row, owner=True),
            title=row["title"],
            created_at=row["created_at"],
            content_hash=row["content_hash"],
            audio_path=row["audio_path"],
            document=json.loads(row["document"]),
            corrections=corrections,
            comments=comments,
            reviewed_by=row["reviewer"],
            reviewed_at=row["reviewed_at"],
            scenario=row["scenario"],
        )
