"""The wheel's contents are listed by hand in pyproject.toml (models/ is mapped into the package)."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO
from trainer.coding.mi_coder import MODEL_DIR


def _listed() -> set[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"trainer.models": "models"}
    return set(config["packages"])


def test_every_package_and_model_folder_goes_into_the_wheel():
    code = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "trainer").rglob("__init__.py")}
    models = {"trainer.models"} | {f"trainer.models.{p.name}" for p in (REPO / "models").iterdir() if p.is_dir()}
    missing, stale = (code | models) - _listed(), _listed() - (code | models)
    assert not missing and not stale, f"pyproject.toml [tool.setuptools] packages: add {missing}, remove {stale}"


def test_a_checkout_reads_the_coder_from_the_models_folder():
    assert MODEL_DIR == REPO / "models" / "mi_coder"
    assert (MODEL_DIR / "config.json").is_file()
