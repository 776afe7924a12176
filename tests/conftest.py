"""Shared paths and small fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from trainer.schema import Code

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # small real recordings kept in the repository (see its README)
SAMPLES = REPO / "sample_audio"
# Short names of the five codes, for hand-built coded sessions.
OQ, CQ, SR, CR, OT = (
    Code.OPEN_QUESTION,
    Code.CLOSED_QUESTION,
    Code.SIMPLE_REFLECTION,
    Code.COMPLEX_REFLECTION,
    Code.OTHER,
)
JFK_TEXT = (
    "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
)
LEFT_TEXT = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
RIGHT_TEXT = "The horizon seems extremely distant."


def read_summary(out: Path) -> list[dict[str, str]]:
    """The rows of an output folder's summary.csv, as written."""
    with (out / "summary.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def with_hiss(samples: np.ndarray, below_db: float, seed: int = 0) -> np.ndarray:
    """The samples (any shape) with white noise `below_db` under their own level, from a fixed seed."""
    level = np.sqrt(np.mean(np.square(samples, dtype=np.float64))) / 10 ** (below_db / 20)
    return (samples + level * np.random.default_rng(seed).standard_normal(samples.shape)).astype(np.float32)


def normalise(text: str) -> str:
    """Lower case, letters and spaces only: what WER-style comparisons look at."""
    return " ".join("".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split())


@pytest.fixture
def jfk_path() -> Path:
    return TEST_DATA / "jfk.flac"


@pytest.fixture
def stereo_path() -> Path:
    return TEST_DATA / "stereo_diarization.wav"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty store in a temporary data directory, with cheap password hashes."""
    from trainer.app.store import Store

    monkeypatch.setattr("trainer.app.accounts.SCRYPT_N", 2**10)  # these tests are not about hashing cost
    return Store(tmp_path / "data")


@pytest.fixture
def people(store):
    """Two trainees and an instructor in one cohort, an instructor of another."""
    from trainer.app.accounts import register

    return {
        name: register(store, name, role, cohort, "password1")
        for name, role, cohort in [
            ("ann", "trainee", "spring"),
            ("bob", "trainee", "spring"),
            ("ivy", "instructor", "spring"),
            ("olga", "instructor", "autumn"),
        ]
    }


@pytest.fixture
def transcript_csv(tmp_path: Path) -> Path:
    """A short counselling exchange as a CSV transcript with times."""
    path = tmp_path / "session.csv"
    path.write_text(
        "speaker,start,end,text\n"
        "Counsellor,0.0,3.0,What brings you here today?\n"
        "client,3.5,9.5,My doctor says I drink too much and I should cut down.\n"
        "T,10.0,13.0,You're not sure you agree with her.\n"
        "C,13.5,18.0,Well I do drink a bit more than I used to.\n"
        "therapist,18.5,20.0,Do you drink every day?\n"
        "patient,20.5,21.5,Most days.\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def steps(monkeypatch, transcript_csv) -> list[str]:
    """Fake pipeline: any upload is scored as the transcript; returns the progress steps reported."""
    reported: list[str] = []

    def fake(path, options, hook, name):
        def spy(step, artifact, *, completed, total):
            reported.append(step)
            hook(step, artifact, completed=completed, total=total)

        from trainer.pipeline import run_session

        return run_session(transcript_csv, options, spy, name=name)

    monkeypatch.setattr("trainer.app.intake.run_session", fake)
    return reported
