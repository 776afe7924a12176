"""Active-listening skills trainer: score counselling role plays utterance by utterance.

The stages, in order (each its own module):
audio -> transcribe -> speakers -> utterances -> coding -> metrics -> feedback,
chained in `trainer.pipeline.run_session`.
"""

__version__ = "0.1.0"
