"""Stage 7: short written feedback, illustrated with the trainee's own words.

What went well, and the one or two things to practise next, judged against the MITI
thresholds in trainer.metrics. Each point quotes utterances from the session so the
trainee sees exactly what to keep doing or change.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainer.metrics import THRESHOLDS, level
from trainer.schema import Code, CodedUtterance, Feedback, FeedbackItem, Metrics, Role

MAX_PRACTISE = 2  # more than two goals at once is too many to practise
MAX_EXAMPLES = 2
TALK_SHARE_GUIDE = 0.5  # above this the counsellor talks more than the client


def _examples(utterances: Sequence[CodedUtterance], *codes: Code) -> tuple[str, ...]:
    """Up to MAX_EXAMPLES utterances with these codes, most confident first, short ones preferred."""
    chosen = [c for c in utterances if c.code in codes]
    chosen.sort(key=lambda c: (-(c.confidence or 0.0), len(c.text)))
    return tuple(c.text for c in chosen[:MAX_EXAMPLES])


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _ratio_item(m: Metrics, utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    key, value, t = "reflection_question_ratio", m.reflection_question_ratio, THRESHOLDS["reflection_question_ratio"]
    if value is None:
        if m.count(Code.SIMPLE_REFLECTION) + m.count(Code.COMPLEX_REFLECTION) == 0:
            return None
        value = float("inf")
    judged = level(key, value)
    reflections = (Code.SIMPLE_REFLECTION, Code.COMPLEX_REFLECTION)
    if judged == "practise":
        return FeedbackItem(
            key,
            "Reflect more, ask less",
            f"You offered {value:.1f} reflections per question (fair is {t.fair:.0f}, good {t.good:.0f}). "
            "Questions like these steer the talk; a reflection of what the client just said "
            "shows you listened and lets them go deeper.",
            value,
            t.fair,
            t.good,
            judged,
            _examples(utterances, Code.CLOSED_QUESTION, Code.OPEN_QUESTION),
        )
    shown = "only reflections" if value == float("inf") else f"{value:.1f} reflections per question"
    return FeedbackItem(
        key,
        "You reflected more than you asked",
        f"{shown.capitalize()} ({judged} by MITI: fair {t.fair:.0f}, good {t.good:.0f}). For example:",
        None if value == float("inf") else value,
        t.fair,
        t.good,
        judged,
        _examples(utterances, *reflections),
    )


def _open_item(m: Metrics, utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    key, value, t = "open_question_share", m.open_question_share, THRESHOLDS["open_question_share"]
    if value is None:
        return None
    judged = level(key, value)
    if judged == "practise":
        return FeedbackItem(
            key,
            "Turn closed questions into open ones",
            f"{_pct(value)} of your questions were open (fair {_pct(t.fair)}, good {_pct(t.good)}). "
            "A closed question can be answered with yes or no; asking 'What...', 'How...' or "
            "'Tell me about...' instead invites the client to explore. Closed questions you asked:",
            value,
            t.fair,
            t.good,
            judged,
            _examples(utterances, Code.CLOSED_QUESTION),
        )
    return FeedbackItem(
        key,
        "Open questions",
        f"{_pct(value)} of your questions were open ({judged}: fair {_pct(t.fair)}, good {_pct(t.good)}), "
        "inviting the client to say more. For example:",
        value,
        t.fair,
        t.good,
        judged,
        _examples(utterances, Code.OPEN_QUESTION),
    )


def _complex_item(m: Metrics, utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    key, value, t = "complex_reflection_share", m.complex_reflection_share, THRESHOLDS["complex_reflection_share"]
    if value is None:
        return None
    judged = level(key, value)
    if judged == "practise":
        return FeedbackItem(
            key,
            "Add meaning to your reflections",
            f"{_pct(value)} of your reflections were complex (fair {_pct(t.fair)}, good {_pct(t.good)}). "
            "These simple reflections repeat the client's words; try adding what they might feel, "
            "value or be torn about ('...and part of you worries that...'):",
            value,
            t.fair,
            t.good,
            judged,
            _examples(utterances, Code.SIMPLE_REFLECTION),
        )
    return FeedbackItem(
        key,
        "Complex reflections",
        f"{_pct(value)} of your reflections added meaning beyond the client's words "
        f"({judged}: fair {_pct(t.fair)}, good {_pct(t.good)}). For example:",
        value,
        t.fair,
        t.good,
        judged,
        _examples(utterances, Code.COMPLEX_REFLECTION),
    )


def _talk_item(m: Metrics, utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    value = m.counsellor_talk_share
    if value is None:
        return None
    unit = "speaking time" if m.talk_basis == "seconds" else "words"
    if value > TALK_SHARE_GUIDE:
        longest = max((c for c in utterances if c.speaker is Role.COUNSELLOR), key=lambda c: len(c.text))
        message = (
            f"You had {_pct(value)} of the {unit}. In MI the client should do most of the talking; "
            "your longest turn was:"
        )
        return FeedbackItem(
            "counsellor_talk_share",
            "Leave the client more room",
            message,
            value,
            level="practise",
            examples=(longest.text,),
        )
    return FeedbackItem(
        "counsellor_talk_share",
        "The client did most of the talking",
        f"You had {_pct(value)} of the {unit}, leaving the client room to explore.",
        value,
        level="info",
    )


def build_feedback(utterances: Sequence[CodedUtterance], metrics: Metrics) -> Feedback:
    """Strengths, at most two points to practise, and notes (guidance and later goals).

    Points to practise follow the order MI skills are usually built in: reflect more
    than you ask, then open up questions, then deepen reflections, then talk less.
    """
    if not any(c.speaker is Role.COUNSELLOR for c in utterances):
        return Feedback(summary="No counsellor speech was found, so there is nothing to give feedback on.")
    judged = [i for i in (f(metrics, utterances) for f in (_ratio_item, _open_item, _complex_item)) if i]
    talk = _talk_item(metrics, utterances)
    strengths = tuple(i for i in judged if i.level in ("good", "fair"))
    to_practise = [i for i in [*judged, talk] if i is not None and i.level == "practise"]
    practise, later = to_practise[:MAX_PRACTISE], to_practise[MAX_PRACTISE:]
    notes = tuple(later) + ((talk,) if talk is not None and talk.level != "practise" else ())
    if not judged:
        summary = "You asked no questions and offered no reflections; try both in your next role play."
    elif not practise:
        summary = f"Well done: all {len(judged)} MITI targets were met at fair or good level."
    else:
        focus = "; ".join(i.title.lower() for i in practise)
        summary = f"{len(strengths)} of {len(judged)} MITI targets met. Next time, focus on: {focus}."
    return Feedback(summary=summary, strengths=strengths, practise=tuple(practise), notes=notes)
