"""Each trainee's voice profile, and telling which voice of a session is theirs.

A trainee enrols about 20 s of their voice once (`trainer.speakers.enrol`); it is kept as
`voices/<user id>.npy` in the data directory, and every recording they score afterwards
takes the voice closest to it as the counsellor. Without a profile, roles come from what each
voice says; when that is unsure, the page asks which voice is the trainee's, and the choice
sets the roles in the stored result anew (`trainer.pipeline.choose_counsellor`), with no new
transcription.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trainer.app.accounts import User
from trainer.app.review import StoredSession
from trainer.app.store import Store
from trainer.batch.output import session_from_dict, session_to_dict
from trainer.coding import CODERS, DEFAULT_CODER, load_coder
from trainer.errors import SpeakerError, TrainerError, one_line
from trainer.pipeline import PipelineOptions, choose_counsellor
from trainer.schema import Role
from trainer.speakers.enrol import PROFILE_SUFFIX, enrol
from trainer.speakers.roles import UNSURE_BELOW

VOICES_DIR = "voices"
CLIP_S = 5.0  # how much of each voice's longest turn the page plays
PROFILE_KEY = "counsellor_profile"  # in a stored document's `speakers`: roles came from the owner's profile


@dataclass(frozen=True)
class Voice:
    """One voice of a session, with the stretch of the recording that lets a person recognise it."""

    label: str  # S0, S1, ... as diarization named it
    role: Role
    clip_start: float  # seconds into the recording
    clip_end: float
    observer: bool = False  # set aside by a person: neither counsellor nor client


def profile_path(store: Store, user: User) -> Path:
    """Where a user's voice profile is kept (whether or not they enrolled one)."""
    return store.data_dir / VOICES_DIR / f"{user.id}{PROFILE_SUFFIX}"


def has_profile(store: Store, user: User) -> bool:
    """Whether the user enrolled their voice."""
    return profile_path(store, user).is_file()


def enrol_upload(store: Store, user: User, filename: str, data: bytes) -> Path:
    """Make the user's voice profile from a recording's bytes, replacing any earlier one.

    The bytes wait in a private folder under `incoming/` and are removed whatever happens.

    Raises:
        TrainerError: the recording cannot be read or holds too little speech; the message
            names the file as uploaded, and an earlier profile is kept.
    """
    folder = store.incoming_dir / f"voice-{secrets.token_hex(8)}"
    folder.mkdir(mode=0o700)
    upload = folder / f"upload{Path(filename).suffix.lower()}"
    profiles = profile_path(store, user).parent
    profiles.mkdir(mode=0o700, exist_ok=True)  # a voice is personal data: as private as the rest
    try:
        upload.write_bytes(data)
        try:
            target = enrol(str(user.id), upload, folder=profiles)
        except TrainerError as e:
            raise SpeakerError(one_line(e).replace(str(upload), filename)) from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    target.chmod(0o600)
    return target


def delete_profile(store: Store, user: User) -> None:
    """Forget the user's voice profile; later sessions find roles by what each voice says."""
    profile_path(store, user).unlink(missing_ok=True)


def counsellor_voice(store: Store, user: User) -> str | None:
    """The user's profile as the pipeline and the live page take a counsellor's voice; None without one."""
    return str(profile_path(store, user)) if has_profile(store, user) else None


def score_options(store: Store, owner: User, options: PipelineOptions) -> PipelineOptions:
    """The pipeline options for scoring an owner's recording: their profile as the counsellor's voice."""
    voice = counsellor_voice(store, owner)
    if voice is None:
        return options
    return replace(options, speakers=replace(options.speakers, counsellor_voice=voice))


def note_profile(document: dict[str, Any], options: PipelineOptions) -> dict[str, Any]:
    """Record in a scored document that a profile chose its roles (only diarization reads one)."""
    speakers = document.get("speakers")
    if options.speakers.counsellor_voice and speakers and speakers.get("method") == "diarization":
        speakers[PROFILE_KEY] = True
    return document


def voices_to_pick(document: Mapping[str, Any]) -> tuple[Voice, ...]:
    """The voices a person can choose the counsellor from, counsellor first; () where roles are not by voice.

    Single-microphone sessions with two voices or more; more than two need the words stored
    with the result, to group the utterances anew.
    """
    speakers = document.get("speakers") or {}
    roles = speakers.get("roles") or {}
    if speakers.get("method") != "diarization" or len(roles) < 2 or (len(roles) > 2 and not speakers.get("words")):
        return ()
    voices = []
    for label, role in roles.items():
        turns = [t for t in speakers.get("turns", ()) if t["speaker"] == label]
        if not turns:
            return ()
        longest = max(turns, key=lambda t: t["end"] - t["start"])
        end = min(longest["end"], longest["start"] + CLIP_S)
        observer = label in speakers.get("observers", ())
        voices.append(Voice(label, Role(role), longest["start"], end, observer))
    return tuple(sorted(voices, key=lambda v: (v.role is not Role.COUNSELLOR, v.observer)))


def roles_unsure(document: Mapping[str, Any]) -> bool:
    """Whether to ask which voice is the counsellor's: found from the words (no profile, no person)
    with a confidence below UNSURE_BELOW."""
    speakers = document.get("speakers") or {}
    return not speakers.get(PROFILE_KEY) and speakers.get("role_confidence", 1.0) < UNSURE_BELOW


def pick_counsellor(
    store: Store, viewer: User, stored: StoredSession, label: str | Sequence[str], observers: Sequence[str] = ()
) -> StoredSession:
    """Make the voice `label` (or voices) the counsellor, `observers` neither counsellor nor client,
    and every other voice a client, as a person decided.

    The automatic choice, if it was already that, is kept and only marked as decided (role
    confidence 1.0); otherwise the session is coded again (its own coder) and its metrics
    recomputed, without transcribing again.

    Raises:
        AccessDenied: the viewer may not see the session.
        SpeakerError: the session has no such voice, or is an older result of more than two.
    """
    roles = (stored.document.get("speakers") or {}).get("roles") or {}
    labels = [label] if isinstance(label, str) else list(label)
    missing = [chosen for chosen in [*labels, *observers] if chosen not in roles]
    if missing:
        raise SpeakerError(f"session {stored.id} has no voice {missing[0]}")
    session = session_from_dict(stored.document)
    coder = session.coder if session.coder in CODERS else DEFAULT_CODER
    document = session_to_dict(choose_counsellor(session, labels, load_coder(coder), observers))
    return store.replace_document(viewer, stored.id, document)
