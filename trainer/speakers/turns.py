"""Turns from frame labels, and words given to the turn they overlap most.

Shared by every strategy: each one ends with words that carry their speaker and the
turns those speakers took, so no later stage assigns words again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from trainer.errors import SpeakerError
from trainer.schema import SpeakerTurn, Word

FRAME_S = 0.02  # frame length in seconds of every frame-level label
MIN_GAP_S = 0.3  # shorter stops inside a phrase are bridged: speech, for talk time
# A speaker's pauses up to this long stay inside their turn, as in the usual references of
# who spoke when (AMI's keep such pauses in the turn). On the AMI excerpts, bridging up to
# 1 s instead of 0.3 s left 1.5 s (trn03) and 0.8 s (trn06) less of a turn unheard.
TURN_PAUSE_S = 1.0
MIN_TURN_S = 0.1  # shorter bursts (clicks, breaths) are dropped


def runs_to_turns(labels: Sequence[str | None]) -> tuple[SpeakerTurn, ...]:
    """Frame labels (None = silence) to turns, bridging a speaker's pauses, dropping blips."""
    turns: list[SpeakerTurn] = []
    for i, label in enumerate(labels):
        if label is None:
            continue
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if turns and turns[-1].speaker == label and start - turns[-1].end <= TURN_PAUSE_S:
            turns[-1] = SpeakerTurn(turns[-1].start, end, label)
        else:
            turns.append(SpeakerTurn(start, end, label))
    return tuple(t for t in turns if t.end - t.start >= MIN_TURN_S)


def label_words(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> tuple[Word, ...]:
    """The words with their speaker: their own label if they have one, else the turn
    overlapping them most, else the nearest turn.

    Raises:
        SpeakerError: some words have no label and there are no turns to give them one.
    """
    if not turns and any(w.speaker is None for w in words):
        raise SpeakerError("no speech turns found to attribute words to")
    starts = np.array([t.start for t in turns])
    ends = np.array([t.end for t in turns])
    labelled = []
    for word in words:
        if word.speaker is not None:
            labelled.append(word)
            continue
        overlap = np.minimum(ends, word.end) - np.maximum(starts, word.start)
        best = int(np.argmax(overlap))
        if overlap[best] <= 0:
            mid = (word.start + word.end) / 2
            best = int(np.argmin(np.minimum(abs(starts - mid), abs(ends - mid))))
        labelled.append(replace(word, speaker=turns[best].speaker))
    return tuple(labelled)


def first_heard(turns: Sequence[SpeakerTurn], more: Sequence[str] = ()) -> dict[str, str]:
    """New names S0, S1, ... for the voices in the order they are first heard; labels in
    `more` (words' voices that no turn kept) are named after them."""
    names: dict[str, str] = {}
    for label in [t.speaker for t in sorted(turns, key=lambda t: t.start)] + list(more):
        names.setdefault(label, f"S{len(names)}")
    return names


def merge_spans(spans: Sequence[tuple[float, float]], bridge_s: float = 0.0) -> list[tuple[float, float]]:
    """Sorted, non-overlapping spans; gaps up to `bridge_s` are closed."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= bridge_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
