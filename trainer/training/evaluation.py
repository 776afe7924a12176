"""Score predicted behaviour codes against expert labels.

Two views matter to a trainer: how often each utterance gets the right code, and how
far the session metrics drift (a coder can be wrong on single utterances yet give the
right reflection-to-question ratio, or the reverse). Both are computed here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from trainer.coding import Coder
from trainer.schema import Code, CodedUtterance
from trainer.scoring.metrics import compute_metrics
from trainer.training.annomi import AnnotatedTranscript
from trainer.vocabulary import NO_SUBCODE, OTHER_KINDS, TALK_TYPES

RATIOS = ("reflection_question_ratio", "complex_reflection_share", "open_question_share")


def asr_style(text: str) -> str:
    """Text as a speech recogniser without punctuation would write it: lower case, no punctuation.

    Apostrophes inside words stay ("don't"), as recognisers spell contractions that way.
    """
    text = re.sub(r"[^a-z0-9' ]+", " ", text.lower())
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    return " ".join(text.split())


def code_transcripts(
    coder: Coder, transcripts: Sequence[AnnotatedTranscript]
) -> tuple[list[tuple[CodedUtterance, ...]], list[tuple[CodedUtterance, ...]]]:
    """Code every transcript as written and in speech-recognition style."""
    coded, coded_asr = [], []
    for t in transcripts:
        coded.append(coder.code(t.plain))
        coded_asr.append(coder.code([replace(u, text=asr_style(u.text)) for u in t.plain]))
    return coded, coded_asr


def write_probabilities(
    path: Path, transcripts: Sequence[AnnotatedTranscript], probabilities: Sequence[Sequence[object]], mode: str = "w"
) -> None:
    """Save per-utterance probabilities beside the expert labels, one JSON object per transcript.

    Interval calibration and the MI-quality model are fitted from this file, so they see
    only codes from coders that never trained on the transcript (out of fold).

    Args:
        path: JSON-lines file to write.
        transcripts: the gold-labelled conversations.
        probabilities: per transcript, (code, "other" subtype, talk type) probability tensors.
        mode: "w" to start the file, "a" to add to it.
    """
    with path.open(mode, encoding="utf-8") as f:
        for t, (code, sub, talk) in zip(transcripts, probabilities, strict=True):
            rows = [
                {
                    "utterance_id": a.utterance_id,
                    "speaker": a.utterance.speaker.value,
                    "text": a.utterance.text,
                    "code": a.code.value if a.code else None,
                    "subcode": a.subcode,
                    "p_code": code[i].tolist(),
                    "p_subcode": sub[i].tolist(),
                    "p_talk": talk[i].tolist(),
                }
                for i, a in enumerate(t.utterances)
            ]
            record = {
                "transcript_id": t.transcript_id,
                "group": t.group,
                "mi_quality": t.mi_quality,
                "topic": t.topic,
                "utterances": rows,
            }
            f.write(json.dumps(record) + "\n")


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
    pairs = Counter(zip(gold, predicted))
    confusion = tuple(tuple(pairs[(g, p)] for p in labels) for g in labels)
    scores = []
    for k, label in enumerate(labels):
        hits = confusion[k][k]
        support, called = sum(confusion[k]), sum(row[k] for row in confusion)
        precision = hits / called if called else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        scores.append(LabelScore(label, precision, recall, f1, support))
    return LabelEvaluation(
        labels=labels,
        scores=tuple(scores),
        macro_f1=sum(s.f1 for s in scores) / len(labels),
        accuracy=sum(g == p for g, p in zip(gold, predicted)) / max(1, len(gold)),
        confusion=confusion,
    )


def session_errors(
    gold_sessions: Sequence[Sequence[CodedUtterance]], predicted_sessions: Sequence[Sequence[CodedUtterance]]
) -> dict[str, tuple[float | None, int]]:
    """Mean absolute error of each session ratio, with the number of sessions it is defined in.

    A session counts for a ratio only where both gold and predicted codes define it.
    """
    errors: dict[str, list[float]] = {k: [] for k in RATIOS}
    for gold, predicted in zip(gold_sessions, predicted_sessions, strict=True):
        g, p = compute_metrics(gold), compute_metrics(predicted)
        for key in RATIOS:
            gv, pv = getattr(g, key), getattr(p, key)
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
    lines += [
        f"| {s.label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |" for s in evaluation.scores
    ]
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


def evaluation_report(
    transcripts: Sequence[AnnotatedTranscript],
    coded: Sequence[Sequence[CodedUtterance]],
    coded_asr: Sequence[Sequence[CodedUtterance]] | None = None,
) -> str:
    """The full markdown report: codes, confusion, session errors, ASR-style text, subtypes.

    Args:
        transcripts: the gold-labelled conversations.
        coded: the coder's output for each, one CodedUtterance per utterance.
        coded_asr: the same conversations coded from lower-cased text without punctuation.
    """
    gold_sessions = [[CodedUtterance(a.utterance, a.code, None, a.subcode) for a in t.utterances] for t in transcripts]
    codes = _codes(gold_sessions, coded)
    parts = [
        format_label_table(codes, "Five codes (counsellor utterances)"),
        "",
        format_confusion(codes),
        "",
        format_session_errors(session_errors(gold_sessions, coded)),
    ]
    if coded_asr is not None:
        asr = _codes(gold_sessions, coded_asr)
        parts += [
            "",
            "### Speech-recognition style text (lower case, no punctuation)",
            "",
            f"macro-F1 {asr.macro_f1:.3f} (drop {codes.macro_f1 - asr.macro_f1:+.3f}), accuracy {asr.accuracy:.3f}",
        ]
    other_gold, other_pred, talk_gold, talk_pred = [], [], [], []
    for gold, predicted in zip(gold_sessions, coded, strict=True):
        for g, p in zip(gold, predicted, strict=True):
            if g.code is Code.OTHER:
                other_gold.append(g.subcode or NO_SUBCODE)
                # End to end: a missed "other" or a missing subcode counts as "none".
                other_pred.append(p.subcode if p.code is Code.OTHER and p.subcode else NO_SUBCODE)
            elif g.code is None and g.subcode in TALK_TYPES:
                talk_gold.append(g.subcode)
                talk_pred.append(p.subcode or "")
    parts += [
        "",
        format_label_table(
            score_labels(other_gold, other_pred, (*OTHER_KINDS, NO_SUBCODE)),
            'Kind of "other" (gold "other" utterances)',
        ),
        "",
        format_label_table(score_labels(talk_gold, talk_pred, TALK_TYPES), "Client talk type"),
    ]
    return "\n".join(parts)


def _codes(
    gold_sessions: Sequence[Sequence[CodedUtterance]], coded: Sequence[Sequence[CodedUtterance]]
) -> LabelEvaluation:
    gold, predicted = [], []
    for g_session, p_session in zip(gold_sessions, coded, strict=True):
        for g, p in zip(g_session, p_session, strict=True):
            if g.code is not None:
                gold.append(g.code.value)
                predicted.append(p.code.value if p.code else "")
    return score_labels(gold, predicted, [c.value for c in Code])
