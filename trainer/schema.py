"""Records passed between pipeline stages.

Every stage takes and returns these frozen dataclasses, so a stage never mutates
what an earlier stage produced:

    audio -> Transcript -> Attribution -> Utterance -> CodedUtterance -> Metrics -> Feedback
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.vocabulary import Code, Level, Role


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span in the recording."""

    start: float  # seconds from the start of the recording
    end: float  # seconds, >= start
    text: str  # as recognised, with leading space stripped
    probability: float = 1.0  # recogniser's confidence, 0..1
    speaker: str | None = None  # speaker label when known at transcription (stereo channel)


@dataclass(frozen=True)
class Transcript:
    """Words of a whole recording, in time order."""

    words: tuple[Word, ...]
    duration_s: float  # length of the audio in seconds
    language: str = "en"  # language the recogniser detected or was told
    model: str = ""  # name or path of the model that produced it


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of time in which one speaker talks."""

    start: float  # seconds
    end: float  # seconds
    speaker: str  # label from the attribution method, e.g. "left" or "S0"


@dataclass(frozen=True)
class Attribution:
    """Who spoke when, and which speaker label plays which role."""

    turns: tuple[SpeakerTurn, ...]
    roles: tuple[tuple[str, Role], ...]  # speaker label -> role, as pairs to stay hashable
    method: str  # "channel", "diarization" or "reference"
    role_confidence: float = 1.0  # 0..1, how sure the role assignment is
    n_speakers: int = 2  # distinct voices found (may exceed 2: observer, supervisor)
    warnings: tuple[str, ...] = ()  # honest notes on what could not be done
    # The transcript's words, each with its speaker label: later stages read these and
    # never assign words again. Stored with the result (empty in results from before that),
    # so roles can be chosen again without transcribing again.
    words: tuple[Word, ...] = ()
    # Voices a person set aside as neither counsellor nor client (an observer, a supervisor):
    # their words stay stored but count for nobody.
    observers: tuple[str, ...] = ()
    # How far speech stood above the background, in dB (trainer.speech.level): under
    # NOISY_DB the talk share's range widens. None: not measured (a clip under 20 s,
    # a result from before it was measured).
    speech_over_background_db: float | None = None

    def role_of(self, speaker: str) -> Role:
        """Role of a speaker label; unknown labels count as client (never as counsellor)."""
        return dict(self.roles).get(speaker, Role.CLIENT)

    def counted_words(self) -> tuple[Word, ...]:
        """The words of the counsellor and the client, without the observers'."""
        if not self.observers:
            return self.words
        return tuple(w for w in self.words if (w.speaker or "") not in self.observers)


@dataclass(frozen=True)
class Utterance:
    """One turn of one speaker: the unit that gets a code."""

    speaker: Role
    text: str
    start: float | None = None  # seconds; None for transcripts without times
    end: float | None = None


@dataclass(frozen=True)
class CodedUtterance:
    """An utterance with its behaviour code; client utterances carry no code."""

    utterance: Utterance
    code: Code | None = None  # None for client utterances
    confidence: float | None = None  # coder's probability for `code`, 0..1
    # Finer label: for code "other" the therapist-input kind (information, advice,
    # options, negotiation); for a client utterance its talk type (change, neutral, sustain).
    subcode: str | None = None
    subcode_confidence: float | None = None
    # The coder's probability of every Code, in Code order; None where a person set the code.
    probabilities: tuple[float, ...] | None = None

    @property
    def speaker(self) -> Role:
        """Shortcut to the utterance's speaker."""
        return self.utterance.speaker

    @property
    def text(self) -> str:
        """Shortcut to the utterance's text."""
        return self.utterance.text


@dataclass(frozen=True)
class Metrics:
    """Session metrics trainers use; fractions are 0..1 and None where undefined."""

    reflection_question_ratio: float | None  # (SR + CR) / (OQ + CQ)
    complex_reflection_share: float | None  # CR / (SR + CR)
    open_question_share: float | None  # OQ / (OQ + CQ)
    counsellor_talk_share: float | None  # counsellor speaking time / all speaking time
    counts: tuple[tuple[Code, int], ...] = ()  # utterances per code, counsellor only
    talk_basis: str = "seconds"  # "seconds" or "words": what talk share was measured in
    # Likely range of a metric as (key, low, high), from the coder's probabilities and, for
    # talk share, the speaker method (trainer.scoring.intervals); empty where all is certain.
    intervals: tuple[tuple[str, float, float], ...] = ()

    def count(self, code: Code) -> int:
        """Number of counsellor utterances with this code."""
        return dict(self.counts).get(code, 0)

    def interval(self, key: str) -> tuple[float, float] | None:
        """The likely (low, high) range of a metric, or None when it has none."""
        return next(((low, high) for k, low, high in self.intervals if k == key), None)


@dataclass(frozen=True)
class FeedbackItem:
    """One judged point of feedback: a value against a threshold, with examples."""

    key: str  # metric key or topic, e.g. "open_question_share"
    title: str  # short heading shown to the trainee
    message: str  # one or two sentences: what happened and why it matters
    value: float | None = None  # the measured value, if any
    fair: float | None = None  # MITI "fair" threshold, if any
    good: float | None = None  # MITI "good" threshold, if any
    level: str = Level.INFO  # a vocabulary.Level
    examples: tuple[str, ...] = ()  # the trainee's own utterances illustrating the point
    low: float | None = None  # likely range of the value: the coder's doubt, or one microphone's on talk share
    high: float | None = None
    # Where the range straddles a threshold, the level in words, e.g. "around the fair level,
    # the coder cannot tell"; empty when the level is clear.
    level_note: str = ""


@dataclass(frozen=True)
class Feedback:
    """Written feedback on one session: strengths and what to practise next."""

    summary: str
    strengths: tuple[FeedbackItem, ...] = ()
    practise: tuple[FeedbackItem, ...] = ()  # at most two, the most useful first
    notes: tuple[FeedbackItem, ...] = ()  # guidance that is not pass/fail (talk time, advice, change talk)


@dataclass(frozen=True)
class Evidence:
    """One feature of the session and which way it moved the estimate."""

    feature: str
    label: str  # how an instructor reads the feature
    value: float
    typical_high: float  # median in AnnoMI's high-quality sessions (cross-validated codes)
    typical_low: float  # median in its low-quality sessions
    toward: str  # "high" or "low"


@dataclass(frozen=True)
class QualityEstimate:
    """How much a session resembles AnnoMI's high-quality MI, with its strongest evidence."""

    probability_high: float
    indicator: str  # "resembles high-quality MI", "resembles low-quality MI" or "mixed signals"
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class TalkStats:
    """Who talked how long, over whom, and how quickly each side answered (trainer.scoring.talk_time)."""

    speaking_s: tuple[tuple[Role, float], ...]  # speech per role, pauses excluded
    overlap_s: float  # seconds in which both roles speak at once
    longest_s: tuple[tuple[Role, float], ...]  # longest uninterrupted stretch (utterance) per role
    response_pause_s: tuple[tuple[Role, float | None], ...]  # mean silence before the role takes the floor


@dataclass(frozen=True)
class Session:
    """The full result of scoring one recording or transcript."""

    source: str  # path of the input as given
    duration_s: float | None
    utterances: tuple[CodedUtterance, ...]
    metrics: Metrics
    feedback: Feedback
    speakers: Attribution | None = None
    transcript_model: str = ""
    coder: str = ""
    warnings: tuple[str, ...] = field(default=())
    talk: TalkStats | None = None  # None when utterances carry no times
    quality: QualityEstimate | None = None  # resemblance to high-quality MI (trainer.scoring.quality), for instructors
