"""Score many inputs: find them, run each through the pipeline, keep going on errors.

Each input gets `<stem>.json` in the output folder and one row in `summary.csv`;
a bad input gets an error row with a one-line reason and the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.audio import AUDIO_EXTENSIONS
from trainer.errors import TrainerError
from trainer.output import summary_row, write_session_json, write_summary
from trainer.pipeline import PipelineOptions, run_session
from trainer.transcripts import TRANSCRIPT_EXTENSIONS

REFERENCE_SUFFIX = ".ref.csv"  # reference annotations beside samples: not inputs
SUMMARY_NAME = "summary.csv"

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: one summary row per input."""

    rows: tuple[dict[str, Any], ...]

    @property
    def failed(self) -> tuple[dict[str, Any], ...]:
        """Rows of inputs that could not be scored."""
        return tuple(r for r in self.rows if r["status"] != "ok")


def is_input(path: Path) -> bool:
    """Whether a file found in a folder is something to score."""
    name = path.name.lower()
    if name.startswith(".") or name.endswith(REFERENCE_SUFFIX) or name == SUMMARY_NAME:
        return False
    return path.suffix.lower() in AUDIO_EXTENSIONS + TRANSCRIPT_EXTENSIONS


def find_inputs(paths: Iterable[str | Path], exclude: Path | None = None) -> list[Path]:
    """Files to score: each file given, and supported files under each folder given.

    Files named explicitly are always kept (so a reference CSV can be scored on
    purpose); folders are searched recursively, skipping `exclude` (the output folder).
    """
    found: list[Path] = []
    skip = exclude.resolve() if exclude else None
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if skip and (skip == f.resolve() or skip in f.resolve().parents):
                    continue
                if f.is_file() and is_input(f):
                    found.append(f)
        else:
            found.append(p)  # missing files get their error row when scored
    return list(dict.fromkeys(found))


def output_names(inputs: Sequence[Path]) -> dict[Path, str]:
    """`<stem>.json` per input; stems shared by several inputs get a short path hash."""
    stems = Counter(p.stem for p in inputs)
    names = {}
    for p in inputs:
        tag = "" if stems[p.stem] == 1 else "-" + hashlib.sha1(str(p).encode()).hexdigest()[:6]
        names[p] = f"{p.stem}{tag}.json"
    return names


def one_line(error: BaseException) -> str:
    """An error as a single line, naming its kind when the message alone is unclear."""
    text = " ".join(str(error).split())
    if isinstance(error, TrainerError):
        return text
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


def score_batch(
    inputs: Sequence[Path],
    out_dir: Path,
    options: PipelineOptions = PipelineOptions(),
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> BatchResult:
    """Score every input, writing JSON files and summary.csv into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = output_names(inputs)
    rows = []
    for path in inputs:
        try:
            session = run_session(path, options)
            json_path = out_dir / names[path]
            write_session_json(session, json_path)
            row = summary_row(str(path), session, json_path=json_path.name)
        except Exception as e:  # noqa: BLE001 - the edge of a batch: one bad input must not stop the rest
            if not isinstance(e, TrainerError):
                log.debug("unexpected error on %s", path, exc_info=True)
            message = one_line(e)
            if str(path) not in message:
                message = f"{path}: {message}"
            row = summary_row(str(path), error=message)
        rows.append(row)
        if on_done:
            on_done(row)
    write_summary(rows, out_dir / SUMMARY_NAME)
    return BatchResult(tuple(rows))
