"""Fit the metric ranges and the MI-quality model on cross-validated codes, and measure both.

Input is the file ``trainer evaluate --probabilities`` writes: every AnnoMI development
utterance with the code probabilities of the one fold coder that never saw its
transcript. Both fits therefore see codes as a new user's sessions get them.

- **Ranges**: one session-wide spread per metric (``trainer.scoring.intervals``), chosen
  from a grid so that the 80% range contains the expert's value in the share of sessions
  closest to 80%. Coverage is reported as fitted and cross-fitted (spread chosen on the
  other folds' sessions).
- **MI quality**: logistic regression over ``trainer.scoring.quality.FEATURES``, its AUROC
  measured by grouped cross-validation (sessions of one video or series never split).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainer.coding.mi_coder import coded_from_probabilities
from trainer.schema import CodedUtterance
from trainer.scoring.intervals import INTERVAL_KEYS, Calibration, metric_intervals
from trainer.scoring.metrics import compute_metrics
from trainer.scoring.quality import fit_quality_model, session_features
from trainer.training.annomi import AnnotatedTranscript, grouped_folds

SPREADS = (*(i / 8 for i in range(17)), 2.5, 3.0, 4.0)  # eighths up to 2: coverage moves a few points a step
TARGET = 0.8


def read_probabilities(
    path: Path, transcripts: Sequence[AnnotatedTranscript]
) -> tuple[list[AnnotatedTranscript], list[tuple[CodedUtterance, ...]]]:
    """The transcripts the file holds, and the coder's sessions as ``evaluate --probabilities`` saved them.

    A run stopped after some folds leaves some transcripts out; the fits use those it has.

    Raises:
        ValueError: the file holds no transcript, or a transcript's utterances differ from the data's.
    """
    saved = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            saved[record["transcript_id"]] = record["utterances"]
    held, sessions = [], []
    for t in transcripts:
        rows = saved.get(t.transcript_id)
        if rows is None:
            continue
        if [r["utterance_id"] for r in rows] != [a.utterance_id for a in t.utterances]:
            raise ValueError(f"{path}: transcript {t.transcript_id} has other utterances than the data")
        heads = (torch.tensor([r[key] for r in rows]) for key in ("p_code", "p_subcode", "p_talk"))
        held.append(t)
        sessions.append(coded_from_probabilities(t.plain, *heads))
    if not held:
        raise ValueError(f"{path}: none of the transcripts is in it")
    return held, sessions


def gold_session(t: AnnotatedTranscript) -> tuple[CodedUtterance, ...]:
    """The expert's codes of one transcript, as certain codes."""
    return tuple(CodedUtterance(a.utterance, a.code, None, a.subcode) for a in t.utterances)


@dataclass(frozen=True)
class Coverage:
    """How often one metric's range held the expert's value."""

    key: str
    spread: float
    fitted: float  # share of sessions covered at the chosen spread
    cross_fitted: float  # the same with the spread chosen without the session's fold
    mean_width: float  # mean high - low at the chosen spread
    sessions: int  # sessions where both the expert's value and a range exist


def _covered(
    coded: Sequence[tuple[CodedUtterance, ...]], gold: Sequence[tuple[CodedUtterance, ...]], key: str, t: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per session: covered (1/0, NaN where not judged) and the range's width."""
    hit, width = np.full(len(coded), np.nan), np.full(len(coded), np.nan)
    calibration = Calibration(spread={key: t})
    for i, (c, g) in enumerate(zip(coded, gold, strict=True)):
        expert, value = getattr(compute_metrics(g), key), _value(c, key)
        ranges = metric_intervals(c, {key: value}, calibration) if value is not None else {}
        if expert is None or key not in ranges:
            continue
        low, high = ranges[key]
        hit[i], width[i] = float(low <= expert <= high), high - low
    return hit, width


def _value(coded: Sequence[CodedUtterance], key: str) -> float | None:
    return getattr(compute_metrics([CodedUtterance(c.utterance, c.code) for c in coded]), key)


def _closest(hits: np.ndarray, rows: np.ndarray) -> int:
    """Index of the spread whose coverage over `rows` is closest to TARGET (the lowest on ties)."""
    return int(np.argmin([abs(np.nanmean(h[rows]) - TARGET) for h in hits]))


def fit_intervals(
    transcripts: Sequence[AnnotatedTranscript], coded: Sequence[tuple[CodedUtterance, ...]], seed: int = 0
) -> list[Coverage]:
    """Choose each metric's spread and measure its coverage, fitted and cross-fitted."""
    gold = [gold_session(t) for t in transcripts]
    folds = grouped_folds(transcripts, 5, seed)
    out = []
    for key in INTERVAL_KEYS:
        results = [_covered(coded, gold, key, t) for t in SPREADS]
        hits = np.array([h for h, _ in results])
        judged = ~np.isnan(hits[0])
        best = _closest(hits, judged)
        crossed = np.full(len(coded), np.nan)
        for train, test in folds:
            rows = np.zeros(len(coded), dtype=bool)
            rows[train] = True
            k = _closest(hits, rows & judged)
            crossed[test] = hits[k][test]
        out.append(
            Coverage(
                key,
                SPREADS[best],
                float(np.nanmean(hits[best])),
                float(np.nanmean(crossed)),
                float(np.nanmean(results[best][1])),
                int(judged.sum()),
            )
        )
    return out


def _auroc(high: Sequence[bool], scores: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.array(high, dtype=int), np.array(scores)))


def quality_auroc(
    transcripts: Sequence[AnnotatedTranscript], sessions: Sequence[Sequence[CodedUtterance]], seed: int = 0
) -> float:
    """AUROC of the quality estimate by grouped 5-fold cross-validation over these sessions."""
    features = [session_features(s) for s in sessions]
    high = [t.mi_quality == "high" for t in transcripts]
    scores = np.zeros(len(sessions))
    for train, test in grouped_folds(transcripts, 5, seed):
        model = fit_quality_model([features[i] for i in train], [high[i] for i in train])
        for i in test:
            scores[i] = model.estimate(features[i]).probability_high
    return _auroc(high, scores)


def calibration_report(
    coverage: Sequence[Coverage], auroc: float, auroc_expert: float, n_sessions: int, n_low: int
) -> str:
    """Markdown tables of the fitted ranges and the quality estimate."""
    lines = [
        "### Metric ranges (80%, cross-validated sessions)",
        "",
        "| metric | spread | coverage (fitted) | coverage (cross-fitted) | mean width | sessions |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {c.key} | {c.spread:g} | {c.fitted:.3f} | {c.cross_fitted:.3f} | {c.mean_width:.3f} | {c.sessions} |"
        for c in coverage
    ]
    lines += [
        "",
        "### MI-quality estimate (grouped 5-fold cross-validation)",
        "",
        f"AUROC {auroc:.3f} from the coder's out-of-fold codes; {auroc_expert:.3f} from the expert codes "
        f"({n_sessions} sessions, {n_low} of them low quality).",
    ]
    return "\n".join(lines)


def calibrate(transcripts: Sequence[AnnotatedTranscript], probabilities: Path, out_dir: Path, seed: int = 0) -> str:
    """Fit both, write ``intervals.json`` and ``mi_quality.json`` to `out_dir`, return the report."""
    transcripts, coded = read_probabilities(probabilities, transcripts)
    coverage = fit_intervals(transcripts, coded, seed)
    auroc = quality_auroc(transcripts, coded, seed)
    auroc_expert = quality_auroc(transcripts, [gold_session(t) for t in transcripts], seed)
    high = [t.mi_quality == "high" for t in transcripts]
    model = fit_quality_model([session_features(s) for s in coded], high)
    out_dir.mkdir(parents=True, exist_ok=True)
    calibration = Calibration(spread={c.key: c.spread for c in coverage})
    intervals = {
        "level": calibration.level,
        "draws": calibration.draws,
        "seed": calibration.seed,
        "spread": dict(calibration.spread or {}),
        "coverage": {c.key: {"fitted": round(c.fitted, 3), "cross_fitted": round(c.cross_fitted, 3)} for c in coverage},
    }
    (out_dir / "intervals.json").write_text(json.dumps(intervals, indent=2) + "\n", encoding="utf-8")
    quality = {**model.to_dict(), "auroc_cross_validated": round(auroc, 3)}
    (out_dir / "mi_quality.json").write_text(json.dumps(quality, indent=2) + "\n", encoding="utf-8")
    return calibration_report(coverage, auroc, auroc_expert, len(high), high.count(False))
