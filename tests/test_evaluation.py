"""Scores that the README's coder table is made of."""

from __future__ import annotations

import pytest

from tests.conftest import CQ, CR, OQ, OT, SR
from trainer.schema import Code, CodedUtterance, Role, Utterance
from trainer.training.annomi import AnnotatedTranscript, AnnotatedUtterance
from trainer.training.evaluation import evaluation_report, score_labels, session_errors


def test_score_labels_by_hand() -> None:
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    ev = score_labels(gold, predicted, ["a", "b", "c"])
    a, b, c = ev.scores
    assert (a.precision, a.recall, a.support) == (1.0, 2 / 3, 3)
    assert b.precision == pytest.approx(0.5) and b.recall == pytest.approx(0.5)
    assert c.f1 == pytest.approx(2 / 3)
    assert ev.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert ev.accuracy == pytest.approx(4 / 6)
    assert ev.confusion == ((2, 1, 0), (0, 1, 1), (0, 0, 1))
    assert ev.n == 6


def test_score_labels_counts_unknown_predictions_as_errors() -> None:
    ev = score_labels(["a", "b"], ["a", ""], ["a", "b"])
    assert ev.accuracy == 0.5
    assert ev.scores[1].recall == 0.0


def _session(*codes: Code) -> list[CodedUtterance]:
    return [CodedUtterance(Utterance(Role.COUNSELLOR, "x"), c) for c in codes]


def test_session_errors_skip_undefined_ratios() -> None:
    gold = [_session(OQ, CQ, SR, CR), _session(OT, OT)]
    predicted = [_session(OQ, OQ, SR, SR), _session(OQ, OT)]
    errors = session_errors(gold, predicted)
    # Session 1: ratio 1.0 vs 1.0, complex share 0.5 vs 0.0, open share 0.5 vs 1.0.
    # Session 2: gold has no questions or reflections, so it is skipped everywhere.
    assert errors["reflection_question_ratio"] == (0.0, 1)
    assert errors["complex_reflection_share"] == (0.5, 1)
    assert errors["open_question_share"] == (0.5, 1)


def test_report_has_every_section() -> None:
    utterances = (
        AnnotatedUtterance(Utterance(Role.COUNSELLOR, "How are you?"), 0, OQ, None),
        AnnotatedUtterance(Utterance(Role.CLIENT, "I want to stop."), 1, None, "change"),
        AnnotatedUtterance(Utterance(Role.COUNSELLOR, "You should stop."), 2, OT, "advice"),
    )
    transcript = AnnotatedTranscript(0, "g0", "high", "smoking", utterances)
    coded = [
        (
            CodedUtterance(utterances[0].utterance, OQ, 0.9),
            CodedUtterance(utterances[1].utterance, None, None, "change", 0.8),
            CodedUtterance(utterances[2].utterance, OT, 0.7, "advice", 0.6),
        )
    ]
    report = evaluation_report([transcript], coded, coded)
    for heading in (
        "Five codes",
        "gold \\ predicted",
        "reflection_question_ratio",
        "Speech-recognition",
        "Kind of",
        "Client talk type",
    ):
        assert heading in report
    assert "| advice | 1.000 | 1.000 | 1.000 | 1 |" in report
    assert "drop +0.000" in report
