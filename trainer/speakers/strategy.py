"""What every way of telling speakers apart takes and gives back.

A strategy finds the voices of a recording: who spoke when (turns), each word with
its speaker, and, where it knows them, the roles (a stereo channel, a reference file)
or each voice's mean embedding (for matching an enrolled counsellor's voice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from trainer.schema import Role, SpeakerTurn, Transcript, Word
from trainer.speech.audio import Audio

METHODS = ("auto", "channel", "diarization", "reference")


@dataclass(frozen=True)
class SpeakerOptions:
    """How to attribute speech to speakers."""

    method: str = "auto"  # auto: channel for two-voice stereo, diarization otherwise
    swap_roles: bool = False  # the counsellor is the other voice (right channel)
    n_speakers: int | None = None  # voices in a single-microphone recording; None: decided from the audio
    counsellor_voice: str | None = None  # an enrolled name or a recording of the counsellor's voice


@dataclass(frozen=True)
class Voices:
    """The voices a strategy found."""

    turns: tuple[SpeakerTurn, ...]
    words: tuple[Word, ...]  # the transcript's words, each with its speaker label
    method: str
    roles: tuple[tuple[str, Role], ...] | None = None  # known without guessing (channel, reference)
    centroids: dict[str, np.ndarray] = field(default_factory=dict, compare=False)  # unit mean embedding per voice
    warnings: tuple[str, ...] = ()


class Strategy(Protocol):
    """Finds the voices of one recording."""

    def __call__(self, audio: Audio, transcript: Transcript, options: SpeakerOptions) -> Voices: ...
