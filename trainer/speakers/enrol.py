"""The counsellor's own voice: enrol it once, then find it in every session.

A profile is the unit mean CAM++ embedding of about 20 s of one person's speech,
saved as `<name>.npy` in the user's data folder. In a session, the counsellor is the
voice whose mean embedding is closest to the profile, and the role confidence is that
cosine: one real speaker in two recordings measured about 0.84, two real speakers 0.5.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from trainer.errors import SpeakerError
from trainer.schema import Role
from trainer.speakers.diarize import voice_embeddings
from trainer.speakers.strategy import Voices
from trainer.speakers.turns import merge_spans
from trainer.speech.audio import load_audio

MIN_ENROL_S = 3.0  # less speech than this makes no reliable profile
PROFILE_SUFFIX = ".npy"
_NAME = re.compile(r"^[\w .-]{1,64}$")


def profiles_dir() -> Path:
    """Where enrolled voices are kept: the user's data folder, not the project."""
    import platformdirs

    return Path(platformdirs.user_data_dir("listening-trainer")) / "voices"


def profile_of(samples: np.ndarray) -> np.ndarray:
    """The voice profile of a mono 16 kHz recording of one person.

    Raises:
        SpeakerError: too little speech in it.
    """
    windows, embeddings = voice_embeddings(samples)
    speech_s = sum(end - start for start, end in merge_spans(windows))
    if speech_s < MIN_ENROL_S:
        raise SpeakerError(f"only {speech_s:.1f} s of speech; record about 20 s of your voice")
    mean = embeddings.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def profile_of_file(path: str | Path) -> np.ndarray:
    """The voice profile of a recording file (any format `load_audio` reads).

    Raises:
        TrainerError: the file cannot be read or holds too little speech.
    """
    audio = load_audio(path)
    try:
        return profile_of(audio.mono())
    except SpeakerError as e:
        raise SpeakerError(f"{path}: {e}") from e


def enrol(name: str, path: str | Path, folder: Path | None = None) -> Path:
    """Store the voice profile of `path` under `name`; returns the profile file.

    Raises:
        TrainerError: a bad name, an unreadable file, or too little speech.
    """
    if not _NAME.match(name):
        raise SpeakerError(f"{name!r}: use letters, digits, spaces, dots or dashes for a voice name")
    profile = profile_of_file(path)
    folder = folder or profiles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}{PROFILE_SUFFIX}"
    np.save(target, profile)
    return target


def load_profile(name_or_file: str, folder: Path | None = None) -> np.ndarray:
    """An enrolled voice by name, a saved profile file, or a recording of the voice.

    Raises:
        TrainerError: no such voice, or a recording that cannot be used.
    """
    path = Path(name_or_file)
    if path.is_file():
        return np.load(path) if path.suffix == PROFILE_SUFFIX else profile_of_file(path)
    stored = (folder or profiles_dir()) / f"{name_or_file}{PROFILE_SUFFIX}"
    if not stored.is_file():
        raise SpeakerError(f"no enrolled voice or file {name_or_file!r} (enrol one with: trainer enrol NAME FILE)")
    return np.load(stored)


def roles_by_voice(
    voices: Voices, profile: np.ndarray, swap: bool = False
) -> tuple[tuple[tuple[str, Role], ...], float]:
    """Roles with the voice closest to `profile` as the counsellor, and that closeness.

    Args:
        voices: what diarization found, with each voice's mean embedding.
        profile: the counsellor's enrolled voice.
        swap: the user says the choice is wrong: take the next closest voice.
    """
    labels = list(dict.fromkeys(t.speaker for t in sorted(voices.turns, key=lambda t: t.start)))
    cosine = {v: float(voices.centroids[v] @ profile) if v in voices.centroids else -1.0 for v in labels}
    ranked = sorted(labels, key=lambda v: -cosine[v])
    counsellor = ranked[1] if swap and len(ranked) > 1 else ranked[0]
    roles = tuple((v, Role.COUNSELLOR if v == counsellor else Role.CLIENT) for v in labels)
    return roles, 1.0 if swap else round(max(0.0, cosine[counsellor]), 3)
