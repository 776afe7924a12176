"""How sure the session metrics are: a likely range for each, from the coder's probabilities.

The coder gives every counsellor utterance a probability per code. Drawing codes from
those distributions many times (with a seeded generator, so a session always gets the
same range) and computing each metric per draw gives the metric's spread; the central
share of the draws is the range shown beside the value. A coder's mistakes within one
session lean the same way, so each draw also shifts all utterances' code probabilities
together, by an amount (the "spread") fitted per metric on cross-validated sessions so
that an 80% range contains the expert's value in about 80% of them (``trainer
calibrate``; the fitted values live in ``models/intervals.json``).

Utterances without probabilities (codes an instructor set or confirmed) are taken as
certain, so a session coded wholly by a person has no ranges.

The counsellor's talk share is not coded but measured, and its doubt is whose voice each
stretch of speech is. One microphone leaves that to diarization, whose error on the share
was measured on real speech (`bench/bench_speakers.py`), and is larger in a noisy
recording (`bench/bench_conditions.py`); separate channels and speakers a
person named (a transcript, a reference) are taken as certain.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trainer import MODELS
from trainer.schema import Code, CodedUtterance, Role
from trainer.speech.level import is_noisy

CALIBRATION_FILE = MODELS / "intervals.json"
INTERVAL_KEYS = ("reflection_question_ratio", "complex_reflection_share", "open_question_share")
CODES = tuple(Code)  # column order of a probability row
_OQ, _CQ, _SR, _CR = (CODES.index(c) for c in Code if c is not Code.OTHER)
# Half-width of the counsellor talk share's 80% range, per speaker method: the 80th percentile
# of the share's error on real AMI meeting excerpts, each main speaker taken as the counsellor
# (`bench/bench_speakers.py`, "talk share" table: 0.20 over 17 speakers in 8 excerpts).
TALK_SHARE_ERROR = {"diarization": 0.20}
# The same where the recording is noisy (speech under NOISY_DB above the background: the
# recordings `trainer score` warns about): the 80th percentile of the share's error on the
# excerpts and two-person conversations with noise added (`bench/bench_conditions.py`, last
# table: 0.215 over 92 speakers, against 0.201 over 181 in the clear recordings), rounded up.
NOISY_TALK_SHARE_ERROR = 0.22
MIN_DEFINED = 0.5  # share of draws in which a metric must be defined to get a range
DRAW_BLOCK_VALUES = 2_000_000  # probabilities held per block of draws (float32): about 8 MB an array


@dataclass(frozen=True)
class Calibration:
    """How ranges are drawn: level, number of draws, seed and a session-wide spread per metric."""

    level: float = 0.8  # share of draws inside the range
    draws: int = 2000
    seed: int = 0
    spread: Mapping[str, float] | None = None  # per metric; 0 where missing

    def spread_of(self, key: str) -> float:
        """The fitted spread of one metric (0: utterances drawn independently, as the coder says)."""
        return float((self.spread or {}).get(key, 0.0))


@functools.lru_cache(maxsize=1)
def shipped_calibration() -> Calibration:
    """The calibration fitted for the shipped coder; plain probabilities when none is shipped."""
    if not CALIBRATION_FILE.exists():
        return Calibration()
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return Calibration(data["level"], data["draws"], data["seed"], data["spread"])


def probability_rows(utterances: Sequence[CodedUtterance]) -> np.ndarray | None:
    """One row of code probabilities per coded counsellor utterance; None if none is uncertain.

    A code without probabilities (set by a person) becomes a certain row.
    """
    rows = []
    for c in utterances:
        if c.speaker is not Role.COUNSELLOR or c.code is None:
            continue
        if c.probabilities is not None:
            rows.append(c.probabilities)
        else:
            rows.append(tuple(float(code is c.code) for code in CODES))
    if not any(c.probabilities is not None for c in utterances if c.speaker is Role.COUNSELLOR):
        return None
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(CODES))


def draw_counts(rows: np.ndarray, draws: int, seed: int, spread: float = 0.0) -> np.ndarray:
    """Counts per code in each of `draws` codings sampled from the rows, shape (draws, n_codes).

    Each draw first shifts every code's log-probability by one normal offset (standard
    deviation `spread`) shared by all utterances of the session: a coder's mistakes in one
    session lean the same way (one trainee's style, one topic), which independent draws
    per utterance would miss. Certain rows (codes a person set) stay certain.
    """
    rng = np.random.default_rng(seed)
    n_codes = rows.shape[1]
    # Codes first, (codes, draws, utterances): each step below works on long contiguous
    # slices, which numpy does fast; reducing over a short last axis of five codes is slow.
    with np.errstate(divide="ignore"):
        logits = np.log(rows.astype(np.float32)).T[:, None, :]
    offsets = None
    if spread > 0:
        offsets = rng.normal(0.0, spread, (draws, 1, n_codes)).astype(np.float32).transpose(2, 0, 1)
    counts = np.zeros((draws, n_codes), dtype=np.int64)
    # Draws are made a block at a time so memory stays bounded on very long sessions; the
    # random stream is consumed in the same order as one block of all draws would.
    block = max(1, DRAW_BLOCK_VALUES // max(1, rows.size))
    for first in range(0, draws, block):
        shifted = logits if offsets is None else logits + offsets[:, first : first + block]
        weights = np.exp(shifted - functools.reduce(np.maximum, shifted))
        # A sum over the codes and a running sum, slice by slice in the order np.sum and
        # np.cumsum add over a row's codes: the same float32 roundings, much faster.
        cumulative = np.divide(weights, functools.reduce(np.add, weights), out=weights)
        for k in range(1, n_codes):
            np.add(cumulative[k - 1], cumulative[k], out=cumulative[k])
        cumulative[-1] = 1.0  # rounding must not leave a draw without a code
        n = min(block, draws - first)
        uniform = rng.random((n, len(rows), 1), dtype=np.float32)[..., 0]
        # Cumulative probabilities rise with the code, so the drawn code is the number of
        # them a uniform number exceeds: utterances past code k, per draw, give the counts.
        past = np.stack([(uniform > cumulative[k]).sum(axis=1) for k in range(n_codes)], axis=1)
        counts[first : first + n] = -np.diff(past, axis=1, prepend=len(rows))
    return counts


def metric_draws(counts: np.ndarray, key: str) -> np.ndarray:
    """The metric in every draw; NaN where it is undefined (no questions, no reflections)."""
    oq, cq, sr, cr = (counts[:, k].astype(np.float64) for k in (_OQ, _CQ, _SR, _CR))
    numerator, denominator = {
        "reflection_question_ratio": (sr + cr, oq + cq),
        "complex_reflection_share": (cr, sr + cr),
        "open_question_share": (oq, oq + cq),
    }[key]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def metric_intervals(
    utterances: Sequence[CodedUtterance],
    values: Mapping[str, float | None],
    calibration: Calibration | None = None,
) -> dict[str, tuple[float, float]]:
    """Likely range (low, high) of each metric; empty when every code is certain.

    Args:
        utterances: the coded session; counsellor utterances may carry code probabilities.
        values: each metric's value from the coder's chosen codes; the range always holds it.
        calibration: how to draw; the shipped calibration by default.
    """
    rows = probability_rows(utterances)
    if rows is None:
        return {}
    calibration = calibration or shipped_calibration()
    out = {}
    drawn: dict[float, np.ndarray] = {}  # metrics of the same spread share their draws (same seed)
    for key in INTERVAL_KEYS:
        value = values.get(key)
        if value is None:
            continue
        spread = calibration.spread_of(key)
        if spread not in drawn:
            drawn[spread] = draw_counts(rows, calibration.draws, calibration.seed, spread)
        sample = metric_draws(drawn[spread], key)
        sample = sample[~np.isnan(sample)]
        if len(sample) < MIN_DEFINED * calibration.draws:
            continue
        tail = (1 - calibration.level) / 2
        low, high = np.quantile(sample, [tail, 1 - tail])
        out[key] = (min(float(low), value), max(float(high), value))
    return out


def talk_share_error(method: str | None, level_db: float | None = None) -> float | None:
    """Half-width of the talk share's likely range; None where the speakers are taken as certain.

    Args:
        method: how speakers were told apart (`Attribution.method`); None for a transcript.
        level_db: how far speech stood above the background (`trainer.speech.level`); None
            when not measured (a short clip, a result from before it was measured).
    """
    error = TALK_SHARE_ERROR.get(method or "")
    if error is not None and is_noisy(level_db):
        return max(error, NOISY_TALK_SHARE_ERROR)
    return error


def talk_share_interval(
    value: float | None, method: str | None, level_db: float | None = None
) -> tuple[float, float] | None:
    """Likely range of the counsellor's talk share, or None where the speakers are taken as certain.

    Args:
        value: the measured share (0..1).
        method: how speakers were told apart (`Attribution.method`); None for a transcript.
        level_db: how far speech stood above the background, as in `talk_share_error`.
    """
    error = talk_share_error(method, level_db)
    if value is None or error is None:
        return None
    return max(0.0, value - error), min(1.0, value + error)
