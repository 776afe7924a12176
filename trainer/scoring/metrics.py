"""Stage 6: the session metrics trainers use, from coded utterances.

How each metric is named and judged (MITI thresholds, the talk-share guide) is in
trainer.vocabulary.METRICS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from trainer.schema import Attribution, Code, CodedUtterance, Metrics, Role
from trainer.scoring.intervals import metric_intervals, talk_share_interval


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def talk_time(utterances: Sequence[CodedUtterance]) -> tuple[dict[Role, float], str]:
    """Speaking amount per role: seconds when every utterance has times, else words."""
    timed = all(c.utterance.start is not None and c.utterance.end is not None for c in utterances)
    amount = {Role.COUNSELLOR: 0.0, Role.CLIENT: 0.0}
    for c in utterances:
        u = c.utterance
        amount[u.speaker] += max(0.0, u.end - u.start) if timed else len(u.text.split())
    return amount, "seconds" if timed else "words"


def compute_metrics(utterances: Sequence[CodedUtterance], speakers: Attribution | None = None) -> Metrics:
    """Counts per code, the four session metrics and their likely ranges.

    Args:
        utterances: the coded session.
        speakers: how its speakers were told apart and how noisy the recording was, which
            say how sure the talk share is; None for a transcript's own speakers.
    """
    counts = Counter(c.code for c in utterances if c.speaker is Role.COUNSELLOR and c.code is not None)
    oq, cq = counts[Code.OPEN_QUESTION], counts[Code.CLOSED_QUESTION]
    sr, cr = counts[Code.SIMPLE_REFLECTION], counts[Code.COMPLEX_REFLECTION]
    amount, basis = talk_time(utterances)
    values = {
        "reflection_question_ratio": _ratio(sr + cr, oq + cq),
        "complex_reflection_share": _ratio(cr, sr + cr),
        "open_question_share": _ratio(oq, oq + cq),
    }
    intervals = metric_intervals(utterances, values)
    talk_share = _ratio(amount[Role.COUNSELLOR], amount[Role.COUNSELLOR] + amount[Role.CLIENT])
    talk_interval = None
    if basis == "seconds" and speakers is not None:
        talk_interval = talk_share_interval(talk_share, speakers.method, speakers.speech_over_background_db)
    if talk_interval is not None:
        intervals["counsellor_talk_share"] = talk_interval
    return Metrics(
        **values,
        counsellor_talk_share=talk_share,
        counts=tuple((code, counts[code]) for code in Code),
        talk_basis=basis,
        intervals=tuple((key, low, high) for key, (low, high) in intervals.items()),
    )
