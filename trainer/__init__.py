"""Active-listening skills trainer: score counselling role plays utterance by utterance.

The stages, in order, chained in `trainer.pipeline.run_session`:
speech (audio -> transcript) -> speakers -> scoring.utterances -> coding -> scoring (metrics,
feedback). `batch` scores many inputs, `app` keeps and reviews sessions, `training` builds
the coder.
"""

__version__ = "0.1.0"
