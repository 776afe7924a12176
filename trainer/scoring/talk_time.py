"""Talk time done right: speech without its pauses, overlap, longest stretch, answer pauses.

Speaking time counts the recognised words of each role, bridging only the short stops
inside a phrase, so long silences count for nobody. Overlap is time in which both
roles have words at once: the channel path hears it; one microphone mostly cannot.
A role's longest uninterrupted stretch is its longest utterance (utterances do not end
at the other side's backchannels), and the pause before answering is measured where the
floor passes from one role to the other, ignoring utterances said inside the other's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

from trainer.schema import Attribution, Role, TalkStats, Utterance
from trainer.speakers.turns import MIN_GAP_S
from trainer.speakers.turns import merge_spans as merge

Intervals = list[tuple[float, float]]


def _total(intervals: Intervals) -> float:
    return sum(end - start for start, end in intervals)


def _intersection(a: Intervals, b: Intervals) -> float:
    """Seconds covered by both interval lists (each sorted and non-overlapping)."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def role_speech(attribution: Attribution) -> dict[Role, Intervals]:
    """Each role's speech from its attributed words, short stops inside phrases bridged."""
    spans: dict[Role, list[tuple[float, float]]] = {role: [] for role in Role}
    for word in attribution.counted_words():
        spans[attribution.role_of(word.speaker or "")].append((word.start, word.end))
    return {role: merge(s, MIN_GAP_S) for role, s in spans.items()}


def _floor_changes(utterances: Sequence[Utterance]) -> dict[Role, list[float]]:
    """Pauses (>= 0) before each role takes the floor from the other."""
    ordered = sorted(utterances, key=lambda u: (u.start, u.end))
    # Said inside the other side's utterance (a backchannel, an overlap): not a new floor.
    # One sweep in start order: an utterance lies inside one of the other side's exactly
    # when the latest end among the other side's utterances started no later reaches its end.
    # Utterances starting at the same moment are all counted before any of them is judged.
    floor: list[Utterance] = []
    latest_end = dict.fromkeys(Role, -math.inf)
    for _, same_start in itertools.groupby(ordered, key=lambda u: u.start):
        group = list(same_start)
        for u in group:
            latest_end[u.speaker] = max(latest_end[u.speaker], u.end)
        floor += [u for u in group if not any(latest_end[r] >= u.end for r in Role if r is not u.speaker)]
    pauses: dict[Role, list[float]] = {role: [] for role in Role}
    for before, after in zip(floor, floor[1:]):
        if after.speaker is not before.speaker:
            pauses[after.speaker].append(max(0.0, after.start - before.end))
    return pauses


def talk_stats(utterances: Sequence[Utterance], speech: Mapping[Role, Intervals] | None = None) -> TalkStats | None:
    """Talk statistics of a timed session; None when any utterance lacks times.

    Args:
        utterances: the session's utterances with start and end times.
        speech: each role's speech without pauses (`role_speech`); when not given,
            utterance spans stand in (transcripts bring no word times).
    """
    if not utterances or any(u.start is None or u.end is None for u in utterances):
        return None
    if speech is None:
        speech = {role: merge([(u.start, u.end) for u in utterances if u.speaker is role]) for role in Role}
    pauses = _floor_changes(utterances)
    longest = {role: max((u.end - u.start for u in utterances if u.speaker is role), default=0.0) for role in Role}
    return TalkStats(
        speaking_s=tuple((role, round(_total(speech.get(role, [])), 2)) for role in Role),
        overlap_s=round(_intersection(speech.get(Role.COUNSELLOR, []), speech.get(Role.CLIENT, [])), 2),
        longest_s=tuple((role, round(longest[role], 2)) for role in Role),
        response_pause_s=tuple((role, round(sum(p) / len(p), 2) if (p := pauses[role]) else None) for role in Role),
    )


def swap_talk(stats: TalkStats) -> TalkStats:
    """The same figures with counsellor and client exchanged."""
    other = {Role.COUNSELLOR: Role.CLIENT, Role.CLIENT: Role.COUNSELLOR}

    def flip(pairs: tuple[tuple[Role, float | None], ...]) -> tuple:
        values = dict(pairs)
        return tuple((role, values.get(other[role])) for role in Role)

    return TalkStats(flip(stats.speaking_s), stats.overlap_s, flip(stats.longest_s), flip(stats.response_pause_s))
