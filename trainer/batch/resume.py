"""What a batch already scored: content and settings hashes kept beside the results.

A result is current when the input's bytes and the settings that scored it are
unchanged. The state file (`.trainer-state.json` in the output folder) records both
hashes per input; it is rewritten atomically after every finished input, so a run
killed at any moment leaves either the old or the new state, never half of one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer import MODELS, __version__
from trainer.batch.output import atomic_write_text

STATE_NAME = ".trainer-state.json"
STATE_FORMAT = 1  # bump when the state file's layout changes
HASH_BLOCK = 1 << 20  # bytes read at a time, so hashing a long recording needs no memory
# Settings that change speed but not results; leaving them out of the settings hash
# lets a re-run with another number of workers keep what is already scored.
SPEED_ONLY = frozenset({"cpu_threads"})

log = logging.getLogger("trainer")


def file_sha256(path: Path) -> str:
    """Hash of a file's bytes, read in blocks.

    Raises:
        OSError: the file cannot be read (missing, a folder, no permission).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _without_speed_only(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_speed_only(v) for k, v in value.items() if k not in SPEED_ONLY}
    return value


@functools.cache
def build_sha256() -> str:
    """Hash of this installation's code and bundled models: what the same version number may still hide.

    A machine with an edited checkout or other models scores differently; with this in
    the settings its results are never taken for another's, and a Dask worker can tell.
    """
    package = Path(__file__).resolve().parents[1]  # the trainer package
    files = [*sorted(package.rglob("*.py")), *sorted(p for p in MODELS.rglob("*") if p.is_file())]
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(MODELS.parent if MODELS in path.parents else package).as_posix()
        digest.update(f"{name}\0{file_sha256(path)}\0".encode())
    return digest.hexdigest()


def settings_sha256(options: Any) -> str:
    """Hash of the settings that decide a result: pipeline options, package version and build."""
    settings = {
        "options": _without_speed_only(dataclasses.asdict(options)),
        "version": __version__,
        "build": build_sha256(),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str, allow_nan=False).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One input's finished result, as recorded in the state file."""

    content: str  # sha256 of the input file's bytes
    settings: str  # settings_sha256 of the options that scored it
    json: str  # name of the result file in the output folder


class BatchState:
    """The state file of one output folder: input path -> Entry of its current result."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_NAME
        self.entries: dict[str, Entry] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") == STATE_FORMAT:
                self.entries = {k: Entry(**v) for k, v in data["inputs"].items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
            # A damaged state only costs re-scoring; it must not stop the batch.
            log.warning("%s: ignoring unreadable batch state (%s)", self.path, e.__class__.__name__)

    def is_current(self, source: Path, json_name: str, settings: str) -> bool:
        """Whether an input's recorded result came from its present bytes, these settings, this name."""
        entry = self.entries.get(str(source))
        if entry is None or entry.settings != settings or entry.json != json_name:
            return False
        try:
            return file_sha256(source) == entry.content
        except OSError:
            return False  # scoring it again will say what is wrong

    def record(self, source: str, entry: Entry | None) -> None:
        """Record (or, with None, forget) an input's result and save the state at once."""
        if entry is None:
            if self.entries.pop(source, None) is None:
                return
        else:
            self.entries[source] = entry
        data = {"format": STATE_FORMAT, "inputs": {k: dataclasses.asdict(v) for k, v in self.entries.items()}}
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")
