"""Turn an uploaded recording or transcript into a stored, scored session, or into nothing at all.

The upload waits inside the data directory while it is scored (`trainer.jobs` queues it) and
is moved into the store only when scoring succeeds (`Store.add_session` is one transaction),
so a failure at any stage leaves no half-saved session.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from trainer.app.accounts import User
from trainer.app.review import StoredSession
from trainer.app.store import Store
from trainer.app.voices import note_profile, score_options
from trainer.batch.output import session_to_dict
from trainer.errors import StoreError, UploadError
from trainer.pipeline import Hook, PipelineOptions, run_session
from trainer.speech.audio import AUDIO_EXTENSIONS, MAX_HOURS_ENV, MAX_HOURS_LIMIT
from trainer.speech.transcript_files import TRANSCRIPT_EXTENSIONS

MAX_UPLOAD_ENV = "TRAINER_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 200  # Streamlit's own default upload limit; about 3 h of 16 kHz WAV
# Recordings, and transcripts (an instructor's typed role play, a corrected export) which score in seconds.
UPLOAD_EXTENSIONS = AUDIO_EXTENSIONS + TRANSCRIPT_EXTENSIONS


def _ignore(step: str, artifact: Any, *, completed: int, total: int) -> None:
    """Default progress hook: report nothing."""


def max_upload_mb() -> int:
    """The upload limit in MB: $TRAINER_MAX_UPLOAD_MB, else DEFAULT_MAX_UPLOAD_MB.

    Raises:
        UploadError: the variable is set to something other than a positive whole number.
    """
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD_MB
    if not raw.isdigit() or int(raw) == 0:
        raise UploadError(f"{MAX_UPLOAD_ENV}={raw!r}: give the limit as a whole number of MB")
    return int(raw)


def app_options() -> PipelineOptions:
    """The pipeline settings of the app: defaults, with the recording length limit from $TRAINER_MAX_HOURS.

    Raises:
        UploadError: the variable is set to something other than a positive number of hours.
    """
    raw = os.environ.get(MAX_HOURS_ENV, "").strip()
    if not raw:
        return PipelineOptions()
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not 0 < hours <= MAX_HOURS_LIMIT:
        raise UploadError(f"{MAX_HOURS_ENV}={raw!r}: give the limit as a number of hours, at most {MAX_HOURS_LIMIT:g}")
    return PipelineOptions(max_hours=hours)


def check_upload(filename: str, size: int, limit_mb: int) -> str:
    """The upload's lower-case extension, once its name and size are acceptable.

    Raises:
        UploadError: too large, empty, or not an audio format the trainer reads.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_EXTENSIONS:
        raise UploadError(f"{filename}: not a supported recording or transcript ({', '.join(UPLOAD_EXTENSIONS)})")
    if size == 0:
        raise UploadError(f"{filename}: the file is empty")
    if size > limit_mb * 1024 * 1024:
        raise UploadError(f"{filename}: {size / 2**20:.0f} MB is over the {limit_mb} MB upload limit")
    return suffix


def score_file(
    store: Store,
    owner: User,
    title: str,
    path: Path,
    content_hash: str,
    options: PipelineOptions | None = None,
    hook: Hook = _ignore,
) -> StoredSession:
    """Score an upload waiting in the data directory and store it with its recording.

    An owner who enrolled their voice is found by it (`voices.score_options`).

    Raises:
        TrainerError: scoring failed (its subclass says why, naming the file as uploaded); nothing
            was stored and the file is where it was.
    """
    options = score_options(store, owner, options or app_options())
    session = run_session(path, options, hook, name=title)
    return store.add_session(owner, title, note_profile(session_to_dict(session), options), content_hash, audio=path)


def recording_of(store: Store, viewer: User, session_id: int) -> tuple[StoredSession, Path]:
    """A session the viewer may see and its recording, which must still be there to score it again.

    Raises:
        AccessDenied: the viewer may not see the session.
        StoreError: the session has no recording.
    """
    stored = store.session(viewer, session_id)
    audio = store.audio_file(stored)
    if audio is None or not audio.is_file():
        raise StoreError(f"{stored.title} has no recording to score again")
    return stored, audio


def rescore(
    store: Store, viewer: User, session_id: int, options: PipelineOptions | None = None, hook: Hook = _ignore
) -> StoredSession:
    """Score a stored recording again (new models, new coder); corrections are kept.

    Raises:
        AccessDenied: the viewer may not see the session.
        StoreError: the session has no recording.
        TrainerError: scoring failed; the stored result is unchanged.
    """
    stored, audio = recording_of(store, viewer, session_id)
    options = score_options(store, stored.owner, options or app_options())
    session = run_session(audio, options, hook, name=stored.title)
    return store.replace_document(viewer, session_id, note_profile(session_to_dict(session), options))
