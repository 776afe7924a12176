"""Read transcripts people bring instead of audio: CSV, plain text, or our own JSON.

A transcript brings its own speakers, so it skips transcription and attribution and
enters the pipeline as utterances. Each row (line, JSON item) stays exactly one
utterance, in order.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import TranscriptFormatError
from trainer.schema import Code, Role, Utterance

TRANSCRIPT_EXTENSIONS = (".csv", ".txt", ".json")
SPEAKER_ALIASES = {
    "counsellor": Role.COUNSELLOR,
    "counselor": Role.COUNSELLOR,
    "therapist": Role.COUNSELLOR,
    "t": Role.COUNSELLOR,
    "client": Role.CLIENT,
    "patient": Role.CLIENT,
    "c": Role.CLIENT,
}


@dataclass(frozen=True)
class TranscriptInput:
    """Utterances read from a transcript file, with any codes it already carried."""

    utterances: tuple[Utterance, ...]
    codes: tuple[Code | None, ...] | None = None  # one per utterance, when the file had codes
    duration_s: float | None = None


def parse_speaker(value: str, where: str) -> Role:
    """Map a speaker label (counsellor, therapist, T, client, patient, C...) to a role."""
    role = SPEAKER_ALIASES.get(value.strip().lower())
    if role is None:
        raise TranscriptFormatError(f"{where}: unknown speaker {value!r} (use counsellor or client)")
    return role


def _parse_code(value: str | None, where: str) -> Code | None:
    if not value or not value.strip():
        return None
    try:
        return Code(value.strip().lower())
    except ValueError:
        raise TranscriptFormatError(f"{where}: unknown code {value!r}") from None


def _parse_time(value: str | float | None, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except ValueError:
        raise TranscriptFormatError(f"{where}: time {value!r} is not a number of seconds") from None


def _build(rows: list[tuple[str, Role, str, float | None, float | None, Code | None]]) -> TranscriptInput:
    """Turn parsed rows (where, role, text, start, end, code) into a TranscriptInput."""
    if not rows:
        raise TranscriptFormatError("transcript has no utterances")
    utterances = tuple(Utterance(speaker=r, text=t, start=s, end=e) for _, r, t, s, e, _ in rows)
    codes = tuple(c if r is Role.COUNSELLOR else None for _, r, _, _, _, c in rows)
    ends = [u.end for u in utterances if u.end is not None]
    return TranscriptInput(
        utterances=utterances,
        codes=codes if any(codes) else None,
        duration_s=max(ends) if ends else None,
    )


def read_csv(path: Path) -> TranscriptInput:
    """CSV with header `speaker,text` and optional `start,end` (seconds) and `code`."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = {h.strip().lower() for h in (reader.fieldnames or [])}
        missing = {"speaker", "text"} - header
        if missing:
            raise TranscriptFormatError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = []
        for n, raw in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "") for k, v in raw.items()}
            where = f"{path} line {n}"
            text = row["text"].strip()
            if not text and not row["speaker"].strip():
                continue
            role = parse_speaker(row["speaker"], where)
            start, end = _parse_time(row.get("start"), where), _parse_time(row.get("end"), where)
            rows.append((where, role, text, start, end, _parse_code(row.get("code"), where)))
    return _build(rows)


def read_text(path: Path) -> TranscriptInput:
    """Plain text, one utterance per `Counsellor:`/`Client:` line; other lines continue it."""
    rows: list = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, text = line.partition(":")
        if sep and label.strip().lower() in SPEAKER_ALIASES:
            rows.append((f"{path} line {n}", parse_speaker(label, path.name), text.strip(), None, None, None))
        elif rows:
            where, role, previous, *_ = rows[-1]
            rows[-1] = (where, role, f"{previous} {line.strip()}", None, None, None)
        else:
            raise TranscriptFormatError(f"{path} line {n}: expected 'Counsellor:' or 'Client:' first")
    return _build(rows)


def read_json(path: Path) -> TranscriptInput:
    """The tool's own output (possibly edited by an instructor)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TranscriptFormatError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    items = data.get("utterances") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise TranscriptFormatError(f"{path}: no 'utterances' list")
    rows = []
    for i, item in enumerate(items):
        where = f"{path} utterance {i}"
        if not isinstance(item, dict) or "speaker" not in item or "text" not in item:
            raise TranscriptFormatError(f"{where}: needs 'speaker' and 'text'")
        role = parse_speaker(str(item["speaker"]), where)
        start, end = _parse_time(item.get("start"), where), _parse_time(item.get("end"), where)
        rows.append((where, role, str(item["text"]), start, end, _parse_code(item.get("code"), where)))
    result = _build(rows)
    duration = data.get("duration_s")
    return TranscriptInput(result.utterances, result.codes, float(duration) if duration else result.duration_s)


def read_transcript(path: str | Path) -> TranscriptInput:
    """Read any supported transcript file, chosen by extension.

    Raises:
        TranscriptFormatError: the file does not follow the format of its extension.
    """
    path = Path(path)
    readers = {".csv": read_csv, ".txt": read_text, ".json": read_json}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise TranscriptFormatError(f"{path}: not a transcript ({', '.join(TRANSCRIPT_EXTENSIONS)})")
    try:
        return reader(path)
    except UnicodeDecodeError as e:
        raise TranscriptFormatError(f"{path}: not UTF-8 text") from e
    except TranscriptFormatError as e:
        if str(path) in str(e):
            raise
        raise TranscriptFormatError(f"{path}: {e}") from e
