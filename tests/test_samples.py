"""Checks on the shipped synthetic role plays in ``sample_audio/`` and their reference files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_audio"
AUDIO_SUFFIXES = (".flac", ".opus", ".ogg", ".wav")
REF_HEADER = ["speaker", "start", "end", "text", "code"]
CODES = {"open_question", "closed_question", "simple_reflection", "complex_reflection", "other"}
EDGE_S = 0.05  # seconds trimmed from each row before measuring channel energy
MAX_TOTAL_BYTES = 3 * 1024 * 1024

AUDIO = sorted(p for p in SAMPLE_DIR.iterdir() if p.suffix in AUDIO_SUFFIXES)
NAMES = [p.name for p in AUDIO]


def ref_path(audio: Path) -> Path:
    """Reference file that belongs to an audio file."""
    return audio.with_name(f"{audio.stem}.ref.csv")


def read_ref(audio: Path) -> list[dict[str, str]]:
    """Rows of an audio file's reference, as read."""
    with ref_path(audio).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == REF_HEADER
        return list(reader)


def span(row: dict[str, str]) -> tuple[float, float]:
    """Start and end of a reference row in seconds."""
    return float(row["start"]), float(row["end"])


def talk_share(rows: list[dict[str, str]], speaker: str) -> float:
    """One speaker's share of all speaking seconds."""
    total = sum(e - s for s, e in map(span, rows))
    return sum(e - s for r in rows if r["speaker"] == speaker for s, e in [span(r)]) / total


def count(rows: list[dict[str, str]], *codes: str) -> int:
    """Number of counsellor rows with any of these codes."""
    return sum(r["code"] in codes for r in rows)


def test_the_promised_samples_exist() -> None:
    """At least four samples, strong and weak, stereo and mono, FLAC and Opus, all small."""
    assert len(AUDIO) >= 4
    stems = {p.stem for p in AUDIO}
    assert {"strong_stereo", "weak_stereo", "strong_mono", "weak_mono"} <= stems
    assert {p.suffix for p in AUDIO} >= {".flac", ".opus"}
    assert sum(p.stat().st_size for p in AUDIO) < MAX_TOTAL_BYTES


@pytest.mark.parametrize("name", NAMES)
def test_reference_rows_are_valid(name: str) -> None:
    """Each row has a known speaker, a valid code (counsellor) or none (client), text, times."""
    rows = read_ref(SAMPLE_DIR / name)
    assert rows[0]["speaker"] in {"counsellor", "client"}
    for row in rows:
        start, end = span(row)
        assert 0 <= start < end
        assert row["text"].strip()
        if row["speaker"] == "counsellor":
            assert row["code"] in CODES
        else:
            assert row["speaker"] == "client" and row["code"] == ""


@pytest.mark.parametrize("name", NAMES)
def test_reference_times_are_ordered(name: str) -> None:
    """Rows start in order and never overlap, except deliberate backchannels."""
    rows = read_ref(SAMPLE_DIR / name)
    starts = [span(r)[0] for r in rows]
    assert starts == sorted(starts)
    overlaps = 0
    host = rows[0]  # the row that reaches furthest so far
    for row in rows[1:]:
        if span(row)[0] < span(host)[1]:
            overlaps += 1
            assert "backchannel" in name, f"unexpected overlap at {row['start']}"
            assert host["speaker"] == "counsellor" and row["speaker"] == "client"
            assert span(row)[1] <= span(host)[1]
            assert len(row["text"].split()) <= 3
        else:
            host = row
    assert ("backchannel" in name) == (overlaps > 0)


@pytest.mark.parametrize("name", NAMES)
def test_audio_matches_reference(name: str) -> None:
    """16 kHz, 1-3 minutes, the layout its name says, and as long as its reference says."""
    audio = SAMPLE_DIR / name
    info = sf.info(str(audio))
    last_end = max(span(r)[1] for r in read_ref(audio))
    assert info.samplerate == 16000
    assert info.channels == (2 if "stereo" in name else 1)
    assert 60 <= last_end <= 180
    assert abs(info.frames / info.samplerate - last_end) < 1.0


@pytest.mark.parametrize("name", [n for n in NAMES if "stereo" in n])
def test_stereo_puts_each_speaker_on_their_own_channel(name: str) -> None:
    """Counsellor on the left, client on the right, the other channel silent meanwhile."""
    audio = SAMPLE_DIR / name
    data, rate = sf.read(str(audio), always_2d=True, dtype="float32")
    for row in read_ref(audio):
        start, end = span(row)
        chunk = data[round((start + EDGE_S) * rate) : round((end - EDGE_S) * rate)]
        rms_left, rms_right = np.sqrt(np.mean(chunk.astype(np.float64) ** 2, axis=0))
        speaking, silent = (rms_left, rms_right) if row["speaker"] == "counsellor" else (rms_right, rms_left)
        assert speaking > 0.01, f"{row['speaker']} at {start} is too quiet"
        assert silent < speaking / 100, f"other channel not silent at {start}"


@pytest.mark.parametrize("name", NAMES)
def test_reference_follows_its_script(name: str) -> None:
    """The reference says, in order, exactly what the script says."""
    audio = SAMPLE_DIR / name
    with (SAMPLE_DIR / "scripts" / f"{audio.stem}.tsv").open(newline="", encoding="utf-8") as f:
        script = [
            (r["speaker"], r["text"], r["code"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]
    assert [(r["speaker"], r["text"], r["code"]) for r in read_ref(audio)] == script


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith(("strong", "weak"))])
def test_strong_and_weak_sessions_differ_as_intended(name: str) -> None:
    """Strong: MITI 4.2.1 'good' R:Q and complex share, client talks most. Weak: the opposite."""
    rows = read_ref(SAMPLE_DIR / name)
    reflections = count(rows, "simple_reflection", "complex_reflection")
    questions = count(rows, "open_question", "closed_question")
    if name.startswith("strong"):
        assert reflections / questions >= 2.0
        assert count(rows, "complex_reflection") / reflections >= 0.5
        assert count(rows, "open_question") / questions >= 0.7
        assert count(rows, "simple_reflection") >= 2 and count(rows, "other") >= 1
        assert talk_share(rows, "client") > 0.55
    else:
        assert reflections / questions < 0.5
        assert count(rows, "closed_question") > count(rows, "open_question")
        assert talk_share(rows, "counsellor") > 0.55
