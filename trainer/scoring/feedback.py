"""Stage 7: short written feedback, illustrated with the trainee's own words.

What went well, and the one or two things to practise next, judged against the MITI
thresholds of trainer.vocabulary.METRICS. Each point quotes utterances from the session so the
trainee sees exactly what to keep doing or change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trainer.schema import Code, CodedUtterance, Feedback, FeedbackItem, Metrics, Role
from trainer.scoring.change_talk import talk_notes
from trainer.vocabulary import METRIC, Level

MAX_PRACTISE = 2  # more than two goals at once is too many to practise
MAX_EXAMPLES = 2


def _examples(utterances: Sequence[CodedUtterance], *codes: Code) -> tuple[str, ...]:
    """Up to MAX_EXAMPLES utterances with these codes, most confident first, short ones preferred."""
    chosen = [c for c in utterances if c.code in codes]
    chosen.sort(key=lambda c: (-(c.confidence or 0.0), len(c.text)))
    return tuple(c.text for c in chosen[:MAX_EXAMPLES])


@dataclass(frozen=True)
class Guide:
    """How to speak about one MITI metric, at practise level and at fair/good level."""

    key: str
    practise_title: str
    practise_text: str  # {value}, {fair}, {good} are filled in
    practise_examples: tuple[Code, ...]  # what to quote when it needs practice
    done_title: str
    done_text: str  # {value}, {fair}, {good}, {level} are filled in
    done_examples: tuple[Code, ...]  # what to quote when it went well


REFLECTIONS = (Code.SIMPLE_REFLECTION, Code.COMPLEX_REFLECTION)
GUIDES = (
    Guide(
        "reflection_question_ratio",
        "Reflect more, ask less",
        "You offered {value} reflections per question (fair is {fair}, good {good}). Questions like these "
        "steer the talk; a reflection of what the client just said shows you listened and lets them go deeper.",
        (Code.CLOSED_QUESTION, Code.OPEN_QUESTION),
        "You reflected more than you asked",
        "{value} reflections per question ({level} by MITI: fair {fair}, good {good}). For example:",
        REFLECTIONS,
    ),
    Guide(
        "open_question_share",
        "Turn closed questions into open ones",
        "{value} of your questions were open (fair {fair}, good {good}). A closed question can be answered "
        "with yes or no; asking 'What...', 'How...' or 'Tell me about...' instead invites the client to "
        "explore. Closed questions you asked:",
        (Code.CLOSED_QUESTION,),
        "Open questions",
        "{value} of your questions were open ({level}: fair {fair}, good {good}), inviting the client to "
        "say more. For example:",
        (Code.OPEN_QUESTION,),
    ),
    Guide(
        "complex_reflection_share",
        "Add meaning to your reflections",
        "{value} of your reflections were complex (fair {fair}, good {good}). These simple reflections repeat "
        "the client's words; try adding what they might feel, value or be torn about "
        "('...and part of you worries that...'):",
        (Code.SIMPLE_REFLECTION,),
        "Complex reflections",
        "{value} of your reflections added meaning beyond the client's words ({level}: fair {fair}, "
        "good {good}). For example:",
        (Code.COMPLEX_REFLECTION,),
    ),
)


def level_note(key: str, interval: tuple[float, float] | None) -> str:
    """Where a likely range straddles a MITI threshold or the talk-share guide, say so; else empty."""
    metric = METRIC.get(key)
    if metric is None or interval is None:
        return ""
    low, high = interval
    if not metric.miti:  # talk share, whose range comes from telling voices apart
        guide = metric.guide
        straddles = guide is not None and low <= guide < high
        return f"around the {metric.show(guide)} guide, one microphone cannot tell" if straddles else ""
    straddled = [name for name, at in (("fair", metric.fair), ("good", metric.good)) if low < at <= high]
    if len(straddled) == 2:
        return "anywhere from below fair to good, the coder cannot tell"
    return f"around the {straddled[0]} level, the coder cannot tell" if straddled else ""


def _with_range(message: str, key: str, interval: tuple[float, float] | None, note: str) -> str:
    """The message led by the metric's likely range (before it: a message may end by introducing examples)."""
    if interval is None:
        return message
    metric = METRIC[key]
    likely = f"Likely {metric.show(interval[0])} to {metric.show(interval[1])}"
    return (f"({likely}: {note}.) " if note else f"({likely}.) ") + message


def _judged_item(guide: Guide, m: Metrics, utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    """A feedback item for one MITI metric, or None when the session gives no value."""
    value = getattr(m, guide.key)
    if value is None:
        if guide.key != "reflection_question_ratio" or not any(m.count(c) for c in REFLECTIONS):
            return None
        value = float("inf")  # reflections but no questions at all: the best possible ratio
    metric = METRIC[guide.key]
    judged = metric.judge(value)
    shown = "Only" if value == float("inf") else metric.show(value)
    fields = {"value": shown, "fair": metric.show(metric.fair), "good": metric.show(metric.good), "level": judged}
    practise = judged is Level.PRACTISE
    message = (guide.practise_text if practise else guide.done_text).format(**fields)
    interval = m.interval(guide.key)
    note = level_note(guide.key, interval)
    message = _with_range(message, guide.key, interval, note)
    return FeedbackItem(
        key=guide.key,
        title=guide.practise_title if practise else guide.done_title,
        message=message,
        value=None if value == float("inf") else value,
        fair=metric.fair,
        good=metric.good,
        level=judged,
        examples=_examples(utterances, *(guide.practise_examples if practise else guide.done_examples)),
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
        level_note=note,
    )


def _talk_item(m: Metrics, utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    value = m.counsellor_talk_share
    if value is None:
        return None
    key = "counsellor_talk_share"
    talk_share = METRIC[key]
    unit = "speaking time" if m.talk_basis == "seconds" else "words"
    interval = m.interval(key)
    note = level_note(key, interval)
    ranged = {"low": interval[0], "high": interval[1], "level_note": note} if interval else {}
    if talk_share.judge(value) is Level.PRACTISE:
        longest = max((c for c in utterances if c.speaker is Role.COUNSELLOR), key=lambda c: len(c.text))
        message = (
            f"You had {talk_share.show(value)} of the {unit}. In MI the client should do most of the talking; "
            "your longest turn was:"
        )
        return FeedbackItem(
            key,
            "Leave the client more room",
            _with_range(message, key, interval, note),
            value,
            level=Level.PRACTISE,
            examples=(longest.text,),
            **ranged,
        )
    message = f"You had {talk_share.show(value)} of the {unit}, leaving the client room to explore."
    return FeedbackItem(
        key,
        "The client did most of the talking",
        _with_range(message, key, interval, note),
        value,
        level=Level.INFO,
        **ranged,
    )


def build_feedback(utterances: Sequence[CodedUtterance], metrics: Metrics) -> Feedback:
    """Strengths, at most two points to practise, and notes (guidance and later goals).

    Points to practise follow the order MI skills are usually built in: reflect more
    than you ask, then open up questions, then deepen reflections, then talk less.
    Notes on advice and change talk (trainer.scoring.change_talk) follow, where the coder
    gave the finer labels they rest on.
    """
    if not any(c.speaker is Role.COUNSELLOR for c in utterances):
        return Feedback(summary="No counsellor speech was found, so there is nothing to give feedback on.")
    judged = [i for i in (_judged_item(g, metrics, utterances) for g in GUIDES) if i]
    talk = _talk_item(metrics, utterances)
    strengths = tuple(i for i in judged if i.level in (Level.GOOD, Level.FAIR))
    to_practise = [i for i in [*judged, talk] if i is not None and i.level == Level.PRACTISE]
    practise, later = to_practise[:MAX_PRACTISE], to_practise[MAX_PRACTISE:]
    talk_note = (talk,) if talk is not None and talk.level != Level.PRACTISE else ()
    notes = tuple(later) + talk_note + talk_notes(utterances)
    if not judged:
        summary = "You asked no questions and offered no reflections; try both in your next role play."
    elif not practise:
        summary = f"Well done: all {len(judged)} MITI targets were met at fair or good level."
    else:
        focus = "; ".join(i.title.lower() for i in practise)
        summary = f"{len(strengths)} of {len(judged)} MITI targets met. Next time, focus on: {focus}."
    unsure = sum(bool(i.level_note) for i in judged)
    if unsure:
        summary += f" For {unsure} of the {len(judged)} the coder cannot tell the level for sure (see each range)."
    return Feedback(summary=summary, strengths=strengths, practise=tuple(practise), notes=notes)
