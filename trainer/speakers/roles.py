"""Which voice is the counsellor's, decided from what each voice says.

A counsellor asks questions, reflects ("so you...", "it sounds like..."), says "you"
more than "I", and usually opens the session. Each voice gets a profile of these
features; a linear score turns them into the probability of being the counsellor.
Talk share is left out on purpose: in the AnnoMI demonstration sessions the counsellor
talked more than the client in 62% of the transcripts, so it tells little.

A wrong choice is corrected without transcribing again (`trainer.pipeline.swap_session`).
With an enrolled voice the roles come from the voice instead (`trainer.speakers.enrol`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trainer.coding.rules import OPEN_STARTS, REFLECTION_STARTS
from trainer.schema import Role, SpeakerTurn, Word

# Below this probability roles found from the words are worth a person's check: the app asks
# "which one is you?" and `trainer score` says how to swap them.
UNSURE_BELOW = 0.8


def worth_checking(method: str | None, role_confidence: float | None) -> bool:
    """Whether a result's roles, told apart on one microphone, are unsure enough for a person to check."""
    return method == "diarization" and role_confidence is not None and role_confidence < UNSURE_BELOW


YOU_WORDS = frozenset({"you", "your", "you're", "yours", "yourself", "you've", "you'd", "you'll"})
I_WORDS = frozenset({"i", "i'm", "me", "my", "mine", "myself", "i've", "i'd", "i'll"})
# Weights of the counsellor score: a logistic regression on the counsellor-minus-client
# feature differences of the 80 AnnoMI development transcripts, rounded (all 80 right;
# `bench/bench_speakers.py` re-measures). "You minus I" alone gets 79 of 80.
WEIGHTS = {"questions": 6.0, "reflective_starts": 3.0, "you_minus_i": 9.0, "opens": 1.5}
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class VoiceProfile:
    """What one voice said, as the features that tell a counsellor from a client."""

    questions: float  # share of its sentences that end in "?"
    reflective_starts: float  # share of its sentences opening like a reflection or open question
    you_minus_i: float  # ("you" words - "I" words) / words
    opens: bool  # it spoke first
    n_words: int  # how much evidence there is


def voice_profile(texts: Sequence[str], opens: bool) -> VoiceProfile:
    """Profile of one voice from its utterances (or runs of words) in order."""
    sentences = [s.strip().lower() for t in texts for s in _SENTENCE.findall(t) if s.strip()]
    words = _WORD.findall(" ".join(texts).lower())
    n_sentences, n_words = max(1, len(sentences)), max(1, len(words))
    you = sum(w in YOU_WORDS for w in words)
    me = sum(w in I_WORDS for w in words)
    return VoiceProfile(
        questions=sum(s.endswith("?") for s in sentences) / n_sentences,
        reflective_starts=sum(s.startswith(REFLECTION_STARTS + OPEN_STARTS) for s in sentences) / n_sentences,
        you_minus_i=(you - me) / n_words,
        opens=opens,
        n_words=len(words),
    )


def counsellor_score(profile: VoiceProfile) -> float:
    """Linear evidence that a voice is the counsellor's (higher: more likely)."""
    return (
        WEIGHTS["questions"] * profile.questions
        + WEIGHTS["reflective_starts"] * profile.reflective_starts
        + WEIGHTS["you_minus_i"] * profile.you_minus_i
        + WEIGHTS["opens"] * profile.opens
    )


def counsellor_probabilities(profiles: Mapping[str, VoiceProfile]) -> dict[str, float]:
    """Probability of each voice being the counsellor (a softmax of the scores)."""
    scores = {label: counsellor_score(p) for label, p in profiles.items()}
    top = max(scores.values())
    exp = {label: math.exp(s - top) for label, s in scores.items()}
    total = sum(exp.values())
    return {label: e / total for label, e in exp.items()}


def _runs(words: Sequence[Word]) -> dict[str, list[str]]:
    """Each voice's consecutive words joined into runs of text, in order."""
    runs: dict[str, list[str]] = {}
    previous = None
    for word in words:
        label = word.speaker or ""
        texts = runs.setdefault(label, [])
        if label == previous:
            texts[-1] += " " + word.text
        else:
            texts.append(word.text)
        previous = label
    return runs


def assign_roles(
    words: Sequence[Word], turns: Sequence[SpeakerTurn], swap: bool = False
) -> tuple[tuple[tuple[str, Role], ...], float]:
    """Roles of the voices in `turns`, and how sure the choice is (0.5 = a coin toss).

    Args:
        words: the transcript's words, each with its voice.
        turns: who spoke when; voices without words are clients unless none has words.
        swap: the user says the automatic choice is wrong: take the next most likely voice.
    """
    voices = list(dict.fromkeys(t.speaker for t in sorted(turns, key=lambda t: t.start)))
    runs = _runs(words)
    first = words[0].speaker if words else voices[0]
    profiles = {v: voice_profile(runs.get(v, []), opens=v == first) for v in voices}
    probabilities = counsellor_probabilities(profiles)
    ranked = sorted(voices, key=lambda v: -probabilities[v])
    counsellor = ranked[1] if swap and len(ranked) > 1 else ranked[0]
    roles = tuple((v, Role.COUNSELLOR if v == counsellor else Role.CLIENT) for v in voices)
    if swap:
        return roles, 1.0  # a person decided
    return roles, probabilities[counsellor] if len(voices) > 1 else 0.5
