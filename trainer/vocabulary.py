"""Every label the trainer writes or shows, spelled once: codes, finer labels, levels, metrics.

Feedback, the reports, the app and the CLI read their words and judgements from here, so a
code reads the same on screen, on paper and in summary.csv, and a metric is judged one way
everywhere. The values of the enums are the output contract (JSON and CSV); the labels are
what people read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LANGUAGE = "en"  # the only language the coder's rules and models read (a Whisper language code)


class Role(StrEnum):
    """Who said an utterance in a practice session."""

    COUNSELLOR = "counsellor"
    CLIENT = "client"


class Code(StrEnum):
    """Behaviour code of one counsellor utterance (MITI-style, five-way)."""

    OPEN_QUESTION = "open_question"
    CLOSED_QUESTION = "closed_question"
    SIMPLE_REFLECTION = "simple_reflection"
    COMPLEX_REFLECTION = "complex_reflection"
    OTHER = "other"


class OtherKind(StrEnum):
    """The finer label of a counsellor "other" utterance that gives input (AnnoMI's therapist input)."""

    INFORMATION = "information"
    ADVICE = "advice"
    OPTIONS = "options"
    NEGOTIATION = "negotiation"


class TalkType(StrEnum):
    """The finer label of a client utterance: towards change, against it, or neither."""

    CHANGE = "change"
    NEUTRAL = "neutral"
    SUSTAIN = "sustain"


NO_SUBCODE = "none"  # an "other" utterance that is not input; an instructor's "remove the finer label"
OTHER_KINDS = tuple(OtherKind)
TALK_TYPES = tuple(TalkType)
SUBCODES = (*OTHER_KINDS, *TALK_TYPES)  # every finer label an utterance may carry


class Level(StrEnum):
    """How a metric or feedback point is judged: MITI levels, or a note that is not judged."""

    GOOD = "good"
    FAIR = "fair"
    PRACTISE = "practise"
    INFO = "info"


LEVEL_LABELS = {Level.GOOD: "good", Level.FAIR: "fair", Level.PRACTISE: "practise", Level.INFO: "note"}
# Colour of each level in the terminal panels (scored session and live practice).
LEVEL_STYLES = {Level.GOOD: "green", Level.FAIR: "yellow", Level.PRACTISE: "red", Level.INFO: "dim"}
CODE_LABELS = {
    Code.OPEN_QUESTION: "Open question",
    Code.CLOSED_QUESTION: "Closed question",
    Code.SIMPLE_REFLECTION: "Simple reflection",
    Code.COMPLEX_REFLECTION: "Complex reflection",
    Code.OTHER: "Other",
}
ROLE_LABELS = {Role.COUNSELLOR: "Counsellor", Role.CLIENT: "Client"}
# One column of the review table holds both kinds of finer label, so each names the rows it fits.
SUBCODE_LABELS = {
    OtherKind.INFORMATION: "Other · information",
    OtherKind.ADVICE: "Other · advice",
    OtherKind.OPTIONS: "Other · options",
    OtherKind.NEGOTIATION: "Other · negotiation",
    TalkType.CHANGE: "Client · change talk",
    TalkType.NEUTRAL: "Client · neutral",
    TalkType.SUSTAIN: "Client · sustain talk",
}


@dataclass(frozen=True)
class Metric:
    """One session metric: how it is named and shown, and how it is judged.

    A MITI metric has fair and good thresholds (higher is better); counsellor talk share has
    only a guide (at most this share), since MITI sets no threshold for it.
    """

    key: str  # the field of schema.Metrics and the JSON/CSV key
    label: str
    percent: bool  # shown as a percentage, else as a ratio with one decimal
    fair: float | None = None
    good: float | None = None
    source: str = ""  # where the thresholds come from
    guide: float | None = None  # "at most", for a metric without MITI thresholds

    @property
    def miti(self) -> bool:
        """Whether MITI thresholds judge this metric."""
        return self.fair is not None and self.good is not None

    def show(self, value: float | None) -> str:
        """The value as people read it: a share in percent, a ratio to one decimal, '–' when unknown."""
        if value is None:
            return "–"
        return f"{value:.0%}" if self.percent else f"{value:.1f}"

    def show_span(self, interval: tuple[float, float] | None) -> str:
        """A range's two ends as people read them, e.g. '1.0–1.9'; '' when there is none."""
        if interval is None:
            return ""
        return f"{self.show(interval[0])}–{self.show(interval[1])}"

    def show_range(self, interval: tuple[float, float] | None) -> str:
        """A likely range as people read it, e.g. 'likely 1.0–1.9'; '' when there is none."""
        return f"likely {self.show_span(interval)}" if interval is not None else ""

    def verdict(self, value: float | None) -> str:
        """The level in words where MITI judges the metric, 'n/a' without a value, 'guide' where it does not."""
        if not self.miti:
            return "guide"
        return "n/a" if value is None else self.judge(value).value

    def judge(self, value: float | None) -> Level:
        """good, fair or practise against the MITI thresholds; above the guide is practise; else info."""
        if value is None:
            return Level.INFO
        if self.miti:
            if value >= self.good:
                return Level.GOOD
            return Level.FAIR if value >= self.fair else Level.PRACTISE
        return Level.PRACTISE if self.guide is not None and value > self.guide else Level.INFO


# Thresholds: MITI 4.2.1 for reflections per question and complex reflections, MITI 3.1.1 for open questions.
METRICS = (
    Metric("reflection_question_ratio", "Reflections per question", False, 1.0, 2.0, "MITI 4.2.1"),
    Metric("complex_reflection_share", "Complex reflections", True, 0.40, 0.50, "MITI 4.2.1"),
    Metric("open_question_share", "Open questions", True, 0.50, 0.70, "MITI 3.1.1"),
    Metric("counsellor_talk_share", "Your talk time", True, guide=0.5),
)
METRIC = {m.key: m for m in METRICS}
METRIC_KEYS = tuple(METRIC)
