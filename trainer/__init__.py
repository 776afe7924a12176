"""Active-listening skills trainer: score counselling role plays utterance by utterance.

The stages, in order, chained in `trainer.pipeline.run_session`:
speech (audio -> transcript) -> speakers -> scoring.utterances -> coding -> scoring (metrics,
feedback). `batch` scores many inputs, `app` keeps and reviews sessions, `training` builds
the coder.
"""

from pathlib import Path

__version__ = "0.1.0"

# Trained models live in the repository's models/ folder; a built wheel carries it as trainer/models.
_PACKAGE = Path(__file__).resolve().parent
MODELS = _PACKAGE / "models" if (_PACKAGE / "models").is_dir() else _PACKAGE.parent / "models"
