"""An instructor-facing estimate of overall MI quality, with the evidence behind it.

AnnoMI's experts marked each demonstration session as high- or low-quality MI. A small
logistic regression over a handful of session features (how the counsellor asks and
reflects, gives advice and answers change talk, and how much they talk) estimates how
much a coded session resembles the high-quality ones. The weights, fitted on
cross-validated codes by ``trainer calibrate``, live in ``models/mi_quality.json``.

It is an indicator for an instructor deciding where to look, not a grade: the features
are the coder's estimates, and the demonstration sessions it learned from are acted.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trainer import MODELS
from trainer.schema import Code, CodedUtterance, Evidence, QualityEstimate, Role
from trainer.scoring.change_talk import split_advice, split_change_talk
from trainer.scoring.intervals import CODES

MODEL_FILE = MODELS / "mi_quality.json"
# Feature key -> how an instructor reads it.
FEATURES = {
    "reflection_question_ratio": "reflections per question",
    "open_question_share": "share of questions that are open",
    "complex_reflection_share": "share of reflections that are complex",
    "reflection_share": "share of counsellor turns that reflect",
    "question_share": "share of counsellor turns that ask",
    "unasked_advice_share": "share of counsellor turns giving unasked advice",
    "change_talk_followed": "share of change talk answered with a reflection or open question",
    "counsellor_word_share": "counsellor's share of the words",
}
RESEMBLES = 0.7  # from this probability of high quality (or below 1 minus it) the indicator takes a side
N_EVIDENCE = 3  # features named as evidence, the strongest first
MAX_RATIO = 4.0  # reflections per question beyond this tell nothing more


def _share(part: float, whole: float) -> float:
    """part / whole, drawn toward one half when there is little to go on (a session without questions)."""
    return (part + 0.5) / (whole + 1.0)


def session_features(utterances: Sequence[CodedUtterance]) -> dict[str, float]:
    """The features of one coded session; codes count by their probability where the coder gave one."""
    counsellor = [c for c in utterances if c.speaker is Role.COUNSELLOR and c.code is not None]
    counts = dict.fromkeys(Code, 0.0)
    for c in counsellor:
        if c.probabilities is None:
            counts[c.code] += 1.0
        else:
            for code, p in zip(CODES, c.probabilities):
                counts[code] += p
    oq, cq = counts[Code.OPEN_QUESTION], counts[Code.CLOSED_QUESTION]
    sr, cr = counts[Code.SIMPLE_REFLECTION], counts[Code.COMPLEX_REFLECTION]
    n = max(1, len(counsellor))
    _, unasked = split_advice(utterances)
    followed, missed = split_change_talk(utterances)
    words = {role: sum(len(c.text.split()) for c in utterances if c.speaker is role) for role in Role}
    return {
        "reflection_question_ratio": min(MAX_RATIO, (sr + cr + 0.5) / (oq + cq + 0.5)),
        "open_question_share": _share(oq, oq + cq),
        "complex_reflection_share": _share(cr, sr + cr),
        "reflection_share": (sr + cr) / n,
        "question_share": (oq + cq) / n,
        "unasked_advice_share": len(unasked) / n,
        "change_talk_followed": _share(len(followed), len(followed) + len(missed)),
        "counsellor_word_share": words[Role.COUNSELLOR] / max(1, sum(words.values())),
    }


@dataclass(frozen=True)
class QualityModel:
    """Standardised logistic regression over FEATURES, as ``trainer calibrate`` writes it."""

    mean: Mapping[str, float]
    scale: Mapping[str, float]
    coef: Mapping[str, float]
    intercept: float
    typical: Mapping[str, Mapping[str, float]]  # "high"/"low" -> feature -> median

    def estimate(self, features: Mapping[str, float]) -> QualityEstimate:
        """The estimate for one session's features."""
        pushes = {k: self.coef[k] * (features[k] - self.mean[k]) / self.scale[k] for k in FEATURES}
        p = 1 / (1 + math.exp(-(self.intercept + sum(pushes.values()))))
        if p >= RESEMBLES:
            indicator = "resembles high-quality MI"
        elif p <= 1 - RESEMBLES:
            indicator = "resembles low-quality MI"
        else:
            indicator = "mixed signals"
        strongest = sorted(FEATURES, key=lambda k: -abs(pushes[k]))[:N_EVIDENCE]
        evidence = tuple(
            Evidence(
                k,
                FEATURES[k],
                features[k],
                self.typical["high"][k],
                self.typical["low"][k],
                "high" if pushes[k] > 0 else "low",
            )
            for k in strongest
        )
        return QualityEstimate(p, indicator, evidence)

    def to_dict(self) -> dict[str, object]:
        """The JSON form stored in models/mi_quality.json."""
        return {
            "features": list(FEATURES),
            "mean": dict(self.mean),
            "scale": dict(self.scale),
            "coef": dict(self.coef),
            "intercept": self.intercept,
            "typical": {k: dict(v) for k, v in self.typical.items()},
        }


def fit_quality_model(features: Sequence[Mapping[str, float]], high: Sequence[bool]) -> QualityModel:
    """Fit the regression: standardised features, L2 penalty, classes weighted equally (few are low)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[f[k] for k in FEATURES] for f in features])
    y = np.array(high, dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, class_weight="balanced").fit((x - mean) / scale, y)
    typical = {
        name: {k: float(np.median(x[y == label, j])) for j, k in enumerate(FEATURES)}
        for name, label in (("high", 1), ("low", 0))
    }
    return QualityModel(
        dict(zip(FEATURES, mean.tolist())),
        dict(zip(FEATURES, scale.tolist())),
        dict(zip(FEATURES, model.coef_[0].tolist())),
        float(model.intercept_[0]),
        typical,
    )


@functools.lru_cache(maxsize=1)
def shipped_quality_model() -> QualityModel | None:
    """The fitted model from models/mi_quality.json; None when it is not there."""
    if not MODEL_FILE.exists():
        return None
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    return QualityModel(data["mean"], data["scale"], data["coef"], data["intercept"], data["typical"])


def estimate_quality(utterances: Sequence[CodedUtterance]) -> QualityEstimate | None:
    """The shipped model's estimate for a coded session; None without counsellor codes or a model."""
    model = shipped_quality_model()
    if model is None or not any(c.speaker is Role.COUNSELLOR and c.code is not None for c in utterances):
        return None
    return model.estimate(session_features(utterances))
