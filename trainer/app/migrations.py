"""The store's SQLite schema, as the scripts that build it one version at a time.

`Store` runs the ones a database has not had yet (PRAGMA user_version counts them), so a
data folder made by any earlier version opens with its sessions and corrections intact.
Add a script for a change; never edit one that has shipped.
"""

from __future__ import annotations

# One script per schema version; PRAGMA user_version records how many have run.
MIGRATIONS = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('trainee', 'instructor')),
        cohort TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        owner_id INTEGER NOT NULL REFERENCES users(id),
        title TEXT NOT NULL,
        created_at TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        audio_path TEXT,
        document TEXT NOT NULL,
        scored_at TEXT NOT NULL,
        reviewed_by INTEGER REFERENCES users(id),
        reviewed_at TEXT,
        UNIQUE (owner_id, content_hash)
    );
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        utterance_index INTEGER,
        text TEXT NOT NULL,
        start REAL,
        speaker TEXT,
        code TEXT,
        comment TEXT NOT NULL DEFAULT '',
        author_id INTEGER NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL,
        UNIQUE (session_id, utterance_index)
    );
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        author_id INTEGER NOT NULL REFERENCES users(id),
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # Corrected subcode: NULL (all rows from before) leaves the machine's, 'none' removes it.
    "ALTER TABLE corrections ADD COLUMN subcode TEXT",
    # Sign-in tokens (trainer/signin.py), failed sign-ins (accounts.login's throttle), scoring jobs
    # (trainer/jobs.py). Times that are compared are Unix seconds (REAL).
    """
    CREATE TABLE sign_ins (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        claimed INTEGER NOT NULL DEFAULT 0,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        owner_id INTEGER NOT NULL REFERENCES users(id),
        title TEXT NOT NULL,
        path TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        step TEXT,
        steps_done INTEGER NOT NULL DEFAULT 0,
        audio_s REAL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        error TEXT,
        session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL
    );
    CREATE INDEX jobs_by_state ON jobs (state, id)
    """,
    # A session's scenario ("alcohol, ambivalent client"; '' for none, as all sessions from before), and
    # the session a job scores again (NULL for an upload).
    """
    ALTER TABLE sessions ADD COLUMN scenario TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN rescore_of INTEGER REFERENCES sessions(id) ON DELETE CASCADE
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
