"""Score predicted behaviour codes against expert labels.

Two views matter to a trainer: how often each utterance gets the right code, and how
far the session metrics drift (a coder can be wrong on single utterances yet give the
right reflection-to-question ratio, or the reverse). Both are computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from trainer.schema import Code

RATIOS = ("reflection_question_ratio", "complex_reflection_share", "open_question_share")


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one label."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int  # gold utterances with this label


@dataclass(frozen=True)
class LabelEvaluation:
    """Utterance-level agreement of predictions with gold labels."""

    labels: tuple[str, ...]
    scores: tuple[LabelScore, ...]
    macro_f1: float
    accuracy: float
    confusion: tuple[tuple[int, ...], ...]  # rows: gold label, columns: predicted, in `labels` order

    @property
    def n(self) -> int:
        """Number of scored utterances."""
        return sum(s.support for s in self.scores)


def score_labels(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> LabelEvaluation:
    """Per-label precision/recall/F1, macro-F1 (unweighted over `labels`), accuracy, confusion."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = tuple(labels)
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=list(labels), zero_division=0)
    scores = tuple(
        LabelScore(lab, float(pi), float(ri), float(fi), int(si)) for lab, pi, ri, fi, si in zip(labels, p, r, f, s)
    )
    matrix = confusion_matrix(gold, predicted, labels=list(labels))
    correct = sum(g == q for g, q in zip(gold, predicted))
    return LabelEvaluation(
        labels=labels,
        scores=scores,
        macro_f1=float(sum(f) / len(labels)),
        accuracy=correct / max(1, len(gold)),
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
    )


def session_ratios(codes: Sequence[Code | None]) -> dict[str, float | None]:
    """The three MITI-style ratios of one session; None where the denominator is zero."""
    n = {c: sum(x is c for x in codes) for c in Code}
    reflections = n[Code.SIMPLE_REFLECTION] + n[Code.COMPLEX_REFLECTION]
    questions = n[Code.OPEN_QUESTION] + n[Code.CLOSED_QUESTION]
    return {
        "reflection_question_ratio": reflections / questions if questions else None,
        "complex_reflection_share": n[Code.COMPLEX_REFLECTION] / reflections if reflections else None,
        "open_question_share": n[Code.OPEN_QUESTION] / questions if questions else None,
    }


def session_errors(
    gold_sessions: Sequence[Sequence[Code | None]], predicted_sessions: Sequence[Sequence[Code | None]]
) -> dict[str, tuple[float | None, int]]:
    """Mean absolute error of each session ratio, with the number of sessions it is defined in.

    A session counts for a ratio only where both gold and predicted codes define it.
    """
    errors: dict[str, list[float]] = {k: [] for k in RATIOS}
    for gold, predicted in zip(gold_sessions, predicted_sessions, strict=True):
        g, p = session_ratios(gold), session_ratios(predicted)
        for key in RATIOS:
            gv, pv = g[key], p[key]
            if gv is not None and pv is not None:
                errors[key].append(abs(gv - pv))
    return {k: (sum(v) / len(v) if v else None, len(v)) for k, v in errors.items()}


def format_label_table(evaluation: LabelEvaluation, title: str) -> str:
    """Markdown table of per-label scores, macro-F1 and accuracy."""
    lines = [
        f"### {title}",
        "",
        "| label | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {s.label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |" for s in evaluation.scores]
    lines += [
        f"| **macro-F1** | | | **{evaluation.macro_f1:.3f}** | {evaluation.n} |",
        f"| **accuracy** | | | **{evaluation.accuracy:.3f}** | |",
    ]
    return "\n".join(lines)


def format_confusion(evaluation: LabelEvaluation) -> str:
    """Markdown confusion matrix, gold labels down, predictions across."""
    short = [lab.replace("_question", "_q").replace("_reflection", "_r") for lab in evaluation.labels]
    lines = ["| gold \\ predicted | " + " | ".join(short) + " |", "| --- |" + " ---: |" * len(short)]
    lines += [f"| {s} | " + " | ".join(str(v) for v in row) + " |" for s, row in zip(short, evaluation.confusion)]
    return "\n".join(lines)


def format_session_errors(errors: dict[str, tuple[float | None, int]]) -> str:
    """Markdown table of session-level mean absolute errors."""
    lines = ["| session metric | MAE | sessions |", "| --- | ---: | ---: |"]
    for key, (mae, n) in errors.items():
        lines.append(f"| {key} | {'n/a' if mae is None else f'{mae:.3f}'} | {n} |")
    return "\n".join(lines)
