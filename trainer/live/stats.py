"""Running figures of a live session and the nudges drawn from them.

The figures are the session metrics of trainer.metrics, computed on the utterances
coded so far, so live and final numbers mean the same thing and share MITI bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trainer.schema import Code, CodedUtterance, Metrics, Role
from trainer.vocabulary import METRICS, Level

LONG_TURN_S = 60.0  # the counsellor has talked this long without the client speaking: nudge
QUESTION_STREAK = 3  # this many questions in a row without a reflection: nudge
RECENT = 5  # coded counsellor utterances shown
QUESTIONS = (Code.OPEN_QUESTION, Code.CLOSED_QUESTION)
REFLECTIONS = (Code.SIMPLE_REFLECTION, Code.COMPLEX_REFLECTION)
LONG_TURN_NUDGE = "You have been talking for over a minute: pause and let the client speak."
STREAK_NUDGE = "Three questions in a row: try reflecting what you heard before the next one."


@dataclass(frozen=True)
class LiveStats:
    """What the live panel shows at one moment."""

    elapsed_s: float  # audio heard so far
    talk_s: tuple[tuple[Role, float], ...]  # speech heard per role, in seconds
    metrics: Metrics  # on the utterances coded so far
    recent: tuple[CodedUtterance, ...]  # the last coded counsellor utterances, oldest first
    nudges: tuple[str, ...]  # gentle prompts that apply now
    roles_note: str  # how roles are decided (e.g. "first voice heard is the counsellor")
    waiting_s: float = 0.0  # speech heard but not yet transcribed: how far behind the view is
    skipped_s: float = 0.0  # speech left out of the live view when too far behind (never from the recording)
    ready: bool = True  # models loaded
    error: str = ""  # why live figures stopped (the recording goes on), if they did
    one_microphone: bool = False  # roles told apart by voice, not by channel: talk share is rough
    speech_over_background_db: float | None = None  # None until enough is heard (trainer.speech.level)

    @property
    def talk_share(self) -> float | None:
        """Counsellor speech over all speech heard so far."""
        talk = dict(self.talk_s)
        total = sum(talk.values())
        return talk.get(Role.COUNSELLOR, 0.0) / total if total else None


def question_streak(coded: Sequence[CodedUtterance]) -> int:
    """Questions the counsellor has asked since their last reflection."""
    streak = 0
    for c in coded:
        if c.code in QUESTIONS:
            streak += 1
        elif c.code in REFLECTIONS:
            streak = 0
    return streak


def nudges(counsellor_run_s: float, coded: Sequence[CodedUtterance]) -> tuple[str, ...]:
    """The nudges that apply: a long stretch of counsellor talk, a run of questions."""
    out = []
    if counsellor_run_s > LONG_TURN_S:
        out.append(LONG_TURN_NUDGE)
    if question_streak(coded) >= QUESTION_STREAK:
        out.append(STREAK_NUDGE)
    return tuple(out)


def bands(metrics: Metrics) -> list[tuple[str, str, Level, str, str]]:
    """(label, value as shown, MITI level, where 'good' starts, likely range) for each MITI-judged metric.

    The range is drawn from the coder's probabilities as for a scored session, so a live
    figure says how sure it is in the same words.
    """
    return [
        (
            m.label,
            m.show(getattr(metrics, m.key)),
            m.judge(getattr(metrics, m.key)),
            f"good from {m.good:g}, {m.source}",
            m.show_range(metrics.interval(m.key)),
        )
        for m in METRICS
        if m.miti
    ]
