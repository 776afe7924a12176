"""Stage 4: group attributed words into utterances (one speaker's turn each).

Each role's words are grouped on their own, so speech that overlaps (both talking at
once, or a client's "mm-hmm" over the counsellor) does not chop a turn into pieces:
a turn ends at a long pause, or when the other side says something of substance.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from trainer.schema import Attribution, Role, Utterance, Word

# A pause this long inside one speaker's speech starts a new utterance: after it,
# the speaker has usually moved on (and the client had room to answer).
MAX_PAUSE_S = 4.0
# Said in the other speaker's pause, these only show listening and do not end a turn.
BACKCHANNELS = frozenset({"mm-hmm", "mhm", "mm", "hmm", "uh-huh", "yeah", "yes", "right", "okay", "ok", "sure"})


def is_backchannel(word: Word) -> bool:
    """Whether a word is a listening noise rather than a contribution."""
    return word.text.lower().strip(".,!?") in BACKCHANNELS


def _split_turns(words: list[Word], others: list[Word], max_pause_s: float) -> list[list[Word]]:
    """Cut one role's words where it paused long or the other side really spoke."""
    other_starts = [o.start for o in others]
    turns = [[words[0]]]
    for prev, word in zip(words, words[1:]):
        lo = bisect.bisect_left(other_starts, prev.end)
        hi = bisect.bisect_left(other_starts, word.start)
        between = [o for o in others[lo:hi] if o.end <= word.start + 0.05]
        interrupted = bool(between) and not all(is_backchannel(o) for o in between)
        if word.start - prev.end >= max_pause_s or interrupted:
            turns.append([word])
        else:
            turns[-1].append(word)
    return turns


def build_utterances(attribution: Attribution, max_pause_s: float = MAX_PAUSE_S) -> tuple[Utterance, ...]:
    """Group the attributed words into utterances, one per turn of each role, in order of start."""
    by_role: dict[Role, list[Word]] = {role: [] for role in Role}
    for word in attribution.counted_words():
        by_role[attribution.role_of(word.speaker or "")].append(word)
    utterances = []
    for role, words in by_role.items():
        if not words:
            continue
        others = sorted((w for r, ws in by_role.items() if r != role for w in ws), key=lambda w: w.start)
        utterances.extend(_utterance(role, turn) for turn in _split_turns(words, others, max_pause_s))
    return tuple(sorted(utterances, key=lambda u: (u.start, u.end)))


def _utterance(role: Role, words: Sequence[Word]) -> Utterance:
    return Utterance(
        speaker=role,
        text=" ".join(w.text for w in words),
        start=round(words[0].start, 2),
        end=round(max(w.end for w in words), 2),
    )
