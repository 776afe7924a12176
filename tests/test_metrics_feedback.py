"""Metrics against their definitions, and feedback quoting the trainee's own words."""

from __future__ import annotations

import pytest

from tests.conftest import CQ, CR, OQ, OT, SR
from trainer.schema import CodedUtterance, Role, Utterance
from trainer.scoring.feedback import build_feedback
from trainer.scoring.metrics import compute_metrics
from trainer.vocabulary import METRIC


def session(codes, client_seconds=10.0, timed=True):
    """Counsellor utterances of 2 s each with these codes, each followed by a client turn."""
    out, t = [], 0.0
    for i, code in enumerate(codes):
        c = Utterance(
            Role.COUNSELLOR, f"counsellor line {i} {code.value}", t if timed else None, t + 2 if timed else None
        )
        t += 2
        k = Utterance(
            Role.CLIENT, "client answer words here", t if timed else None, t + client_seconds if timed else None
        )
        t += client_seconds
        out += [CodedUtterance(c, code, 0.9), CodedUtterance(k)]
    return out


def test_metric_definitions():
    m = compute_metrics(session([OQ, OQ, OQ, CQ, SR, SR, CR, CR, CR, CR, OT]))
    assert m.reflection_question_ratio == pytest.approx(6 / 4)
    assert m.complex_reflection_share == pytest.approx(4 / 6)
    assert m.open_question_share == pytest.approx(3 / 4)
    assert m.counsellor_talk_share == pytest.approx(22 / (22 + 110))
    assert m.count(OT) == 1 and m.count(CR) == 4
    assert m.talk_basis == "seconds"


def test_undefined_metrics_are_none():
    m = compute_metrics(session([OT, OT]))
    assert m.reflection_question_ratio is None
    assert m.complex_reflection_share is None
    assert m.open_question_share is None


def test_talk_share_by_words_without_times():
    m = compute_metrics(session([OQ], timed=False))
    # "counsellor line 0 open_question" = 4 words; the client's answer = 4 words
    assert m.talk_basis == "words"
    assert m.counsellor_talk_share == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("reflection_question_ratio", 0.99, "practise"),
        ("reflection_question_ratio", 1.0, "fair"),
        ("reflection_question_ratio", 2.0, "good"),
        ("complex_reflection_share", 0.45, "fair"),
        ("open_question_share", 0.49, "practise"),
        ("open_question_share", 0.7, "good"),
        ("counsellor_talk_share", 0.9, "practise"),  # above the guide: the one judgement of talk share
        ("counsellor_talk_share", 0.5, "info"),
        ("open_question_share", None, "info"),
    ],
)
def test_miti_levels(key, value, expected):
    assert METRIC[key].judge(value) == expected


@pytest.mark.parametrize(
    ("key", "value", "shown", "verdict"),
    [
        ("reflection_question_ratio", 1.25, "1.2", "fair"),
        ("open_question_share", 0.755, "76%", "good"),
        ("complex_reflection_share", None, "–", "n/a"),
        ("counsellor_talk_share", 0.62, "62%", "guide"),
    ],
)
def test_metric_shown_and_worded(key, value, shown, verdict):
    assert METRIC[key].show(value) == shown
    assert METRIC[key].verdict(value) == verdict


def test_weak_session_feedback_quotes_closed_questions():
    coded = session([CQ, CQ, CQ, CQ, OQ, SR, OT, OT], client_seconds=1.0)
    feedback = build_feedback(coded, compute_metrics(coded))
    assert 1 <= len(feedback.practise) <= 2
    assert [i.key for i in feedback.practise] == ["reflection_question_ratio", "open_question_share"]
    assert [i.key for i in feedback.notes] == ["complex_reflection_share", "counsellor_talk_share"]
    open_item = feedback.practise[1]
    assert open_item.level == "practise"
    assert all("closed_question" in example for example in open_item.examples)
    assert "focus on" in feedback.summary


def test_strong_session_feedback_praises_with_examples():
    coded = session([OQ, OQ, OQ, CQ, SR, CR, CR, CR, SR, CR, CR, CR])
    feedback = build_feedback(coded, compute_metrics(coded))
    assert not feedback.practise
    assert {i.key for i in feedback.strengths} == {
        "reflection_question_ratio",
        "open_question_share",
        "complex_reflection_share",
    }
    ratio = next(i for i in feedback.strengths if i.key == "reflection_question_ratio")
    assert ratio.examples and all("reflection" in e for e in ratio.examples)
    assert feedback.notes and feedback.notes[0].key == "counsellor_talk_share"
    assert feedback.summary.startswith("Well done")


def test_no_counsellor_speech():
    coded = [CodedUtterance(Utterance(Role.CLIENT, "hello", 0.0, 1.0))]
    feedback = build_feedback(coded, compute_metrics(coded))
    assert "No counsellor speech" in feedback.summary
