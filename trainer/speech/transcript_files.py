"""Read transcripts people bring instead of audio: CSV, plain text, or our own JSON.

A transcript brings its own speakers, so it skips transcription and attribution and
enters the pipeline as utterances. Each row (line, JSON item) stays exactly one
utterance, in order.
"""

from __future__ import annotations

import csv
import json
import math
import reprlib
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import TranscriptFormatError
from trainer.safe_text import csv_uncell
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


Row = tuple[str, Role, str, float | None, float | None, Code | None]  # where, role, text, start, end, code


def parse_speaker(value: object, where: str) -> Role:
    """Map a speaker label (counsellor, therapist, T, client, patient, C...) to a role."""
    role = SPEAKER_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if role is None:
        raise TranscriptFormatError(f"{where}: unknown speaker {reprlib.repr(value)} (use counsellor or client)")
    return role


def _parse_code(value: object, where: str) -> Code | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return Code(value.strip().lower()) if isinstance(value, str) else Code(value)
    except ValueError:
        raise TranscriptFormatError(f"{where}: unknown code {reprlib.repr(value)}") from None


def seconds(value: object, name: str, where: str) -> float | None:
    """A time or length in seconds: blank or None, else a finite number >= 0.

    Raises:
        TranscriptFormatError: text that is no number, nan, infinity, a negative number,
            or a value of another kind (true, a list, an object).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TranscriptFormatError(f"{where}: {name} {reprlib.repr(value)} is not a number of seconds")
    try:
        number = float(value)
    except ValueError:
        raise TranscriptFormatError(f"{where}: {name} {reprlib.repr(value)} is not a number of seconds") from None
    if not math.isfinite(number):
        raise TranscriptFormatError(f"{where}: {name} {reprlib.repr(value)} is not a finite number of seconds")
    if number < 0:
        raise TranscriptFormatError(f"{where}: {name} {reprlib.repr(value)} is negative")
    return number


def check_row(where: str, speaker: object, text: object, start: object, end: object, code: object) -> Row:
    """One utterance of any transcript format, every field checked: the validator all readers share.

    Raises:
        TranscriptFormatError: one line naming the file and line (or utterance) and the problem.
    """
    if not isinstance(text, str):
        kind = "missing" if text is None else f"not text but {type(text).__name__}"
        raise TranscriptFormatError(f"{where}: text is {kind}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TranscriptFormatError(f"{where}: text holds a lone surrogate, which is not Unicode") from None
    role = parse_speaker(speaker, where)
    start_s, end_s = seconds(start, "start", where), seconds(end, "end", where)
    if start_s is not None and end_s is not None and end_s < start_s:
        raise TranscriptFormatError(f"{where}: end {end_s:g} s is before start {start_s:g} s")
    return where, role, text.strip(), start_s, end_s, _parse_code(code, where)


def _build(rows: list[Row], duration_s: float | None = None) -> TranscriptInput:
    """Turn checked rows into a TranscriptInput; the length is the last end unless given."""
    if not rows:
        raise TranscriptFormatError("transcript has no utterances")
    utterances = tuple(Utterance(speaker=r, text=t, start=s, end=e) for _, r, t, s, e, _ in rows)
    codes = tuple(c if r is Role.COUNSELLOR else None for _, r, _, _, _, c in rows)
    ends = [u.end for u in utterances if u.end is not None]
    return TranscriptInput(
        utterances=utterances,
        codes=codes if any(codes) else None,
        duration_s=duration_s or (max(ends) if ends else None),
    )


def read_csv(path: Path, shown: str) -> TranscriptInput:
    """CSV with header `speaker,text` and optional `start,end` (seconds) and `code`.

    Cells the tool guarded against spreadsheet formulas (its own CSV export) are read
    back as they were written.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = {h.strip().lower() for h in (reader.fieldnames or [])}
        missing = {"speaker", "text"} - header
        if missing:
            raise TranscriptFormatError(f"{shown}: missing column(s) {', '.join(sorted(missing))}")
        rows = []
        for n, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): csv_uncell(v or "") for k, v in raw.items() if isinstance(k, str)}
            if not row["text"].strip() and not row["speaker"].strip():
                continue
            where = f"{shown} line {n}"
            rows.append(
                check_row(where, row["speaker"], row["text"], row.get("start"), row.get("end"), row.get("code"))
            )
    return _build(rows)


def read_text(path: Path, shown: str) -> TranscriptInput:
    """Plain text, one utterance per `Counsellor:`/`Client:` line; other lines continue it."""
    rows: list[Row] = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, text = line.partition(":")
        if sep and label.strip().lower() in SPEAKER_ALIASES:
            rows.append(check_row(f"{shown} line {n}", label, text, None, None, None))
        elif rows:
            where, role, previous, *_ = rows[-1]
            rows[-1] = (where, role, f"{previous} {line.strip()}", None, None, None)
        else:
            raise TranscriptFormatError(f"{shown} line {n}: expected 'Counsellor:' or 'Client:' first")
    return _build(rows)


def read_json(path: Path, shown: str) -> TranscriptInput:
    """The tool's own output (possibly edited by an instructor)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise TranscriptFormatError(f"{shown}: not valid JSON ({e.msg} at line {e.lineno})") from e
    except RecursionError as e:
        raise TranscriptFormatError(f"{shown}: nested too deeply to be a transcript") from e
    items = data.get("utterances") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise TranscriptFormatError(f"{shown}: no 'utterances' list")
    rows = []
    for i, item in enumerate(items):
        where = f"{shown} utterance {i}"
        if not isinstance(item, dict) or "speaker" not in item or "text" not in item:
            raise TranscriptFormatError(f"{where}: needs 'speaker' and 'text'")
        rows.append(
            check_row(where, item["speaker"], item["text"], item.get("start"), item.get("end"), item.get("code"))
        )
    return _build(rows, seconds(data.get("duration_s"), "duration_s", shown))


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON, though Python's reader accepts them by default."""
    raise TranscriptFormatError(f"not valid JSON ({name} is not a JSON number)")


def read_transcript(path: str | Path, name: str = "") -> TranscriptInput:
    """Read any supported transcript file, chosen by extension.

    Errors name the file `name` when given (an upload's own file name), else its path.

    Raises:
        TranscriptFormatError: the file does not follow the format of its extension.
    """
    path = Path(path)
    shown = name or str(path)
    readers = {".csv": read_csv, ".txt": read_text, ".json": read_json}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise TranscriptFormatError(f"{shown}: not a transcript ({', '.join(TRANSCRIPT_EXTENSIONS)})")
    try:
        return reader(path, shown)
    except UnicodeDecodeError as e:
        raise TranscriptFormatError(f"{shown}: not UTF-8 text") from e
    except csv.Error as e:
        raise TranscriptFormatError(f"{shown}: not a readable CSV file ({e})") from e
    except TranscriptFormatError as e:
        if shown in str(e):
            raise
        raise TranscriptFormatError(f"{shown}: {e}") from e
