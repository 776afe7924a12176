"""Compare a scored session with a reference annotation (`*.ref.csv`).

A reference lists every utterance with speaker, exact times, text and intended code.
Comparing by time lets a benchmark or a test say how much speech went to the right
speaker, how close the talk share is, and how many codes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.schema import CodedUtterance, Role, Session
from trainer.scoring.metrics import compute_metrics
from trainer.speech.transcript_files import read_transcript


@dataclass(frozen=True)
class Comparison:
    """How a scored session matches its reference."""

    attributed_share: float  # share of reference speech time covered by output of the right role
    talk_share_reference: float | None
    talk_share_scored: float | None
    code_agreement: float | None  # matched counsellor utterances whose code equals the reference
    n_reference: int  # reference utterances
    n_scored: int  # scored utterances

    @property
    def talk_share_error(self) -> float | None:
        """Absolute difference of counsellor talk share."""
        if self.talk_share_reference is None or self.talk_share_scored is None:
            return None
        return abs(self.talk_share_reference - self.talk_share_scored)


def reference_path(audio: str | Path) -> Path:
    """Where the reference of a sample recording lives: `<stem>.ref.csv` beside it."""
    audio = Path(audio)
    return audio.with_name(f"{audio.stem}.ref.csv")


def _overlap(a: CodedUtterance, start: float, end: float) -> float:
    u = a.utterance
    if u.start is None or u.end is None:
        return 0.0
    return max(0.0, min(u.end, end) - max(u.start, start))


def compare(session: Session, reference: str | Path) -> Comparison:
    """Time-aligned comparison of a session's utterances with a reference file."""
    given = read_transcript(reference)
    ref = tuple(
        CodedUtterance(u, code if u.speaker is Role.COUNSELLOR else None)
        for u, code in zip(given.utterances, given.codes or (None,) * len(given.utterances))
    )
    total = right = 0.0
    agree = matched = 0
    for r in ref:
        start, end = r.utterance.start or 0.0, r.utterance.end or 0.0
        total += end - start
        right += min(end - start, sum(_overlap(s, start, end) for s in session.utterances if s.speaker is r.speaker))
        if r.speaker is Role.COUNSELLOR and r.code is not None:
            best = max(session.utterances, key=lambda s: _overlap(s, start, end), default=None)
            if best is not None and _overlap(best, start, end) > 0 and best.speaker is Role.COUNSELLOR:
                matched += 1
                agree += best.code is r.code
    return Comparison(
        attributed_share=right / total if total else 0.0,
        talk_share_reference=compute_metrics(ref).counsellor_talk_share,
        talk_share_scored=session.metrics.counsellor_talk_share,
        code_agreement=agree / matched if matched else None,
        n_reference=len(ref),
        n_scored=len(session.utterances),
    )
