"""Feedback on advice and change talk, from the finer labels a trained coder gives.

The trained coder says what kind of "other" a counsellor utterance is (advice among
them) and whether a client utterance is change talk. Two notes follow, each by a rule
simple enough to explain to a trainee:

- **Advice** counts as asked for when the client's last utterance before it is a question
  or asks what to do, when the counsellor asked permission (in their previous utterance
  or in the advice itself, as run-on speech often joins the two), or when it directly
  follows their own asked-for advice, with no client utterance between. Only unasked
  advice is a point to work on.
- **Change talk** (one client turn, i.e. consecutive client utterances, holding change
  talk) counts as followed up when the counsellor's next utterance is a reflection or an
  open question: an open question invites the client to say more about the change, which
  MI counts as evoking it. Anything else (a closed question, information, advice) misses
  it; change talk the session ends on is not judged.

Backchannels ("Mm.", "Yeah, okay.") are passed over: a client's "Sure." does not end
the exchange, and a counsellor's "Mm-hmm." is not their answer to change talk. Labels
given with less than SUBCODE_CONFIDENCE are not used as evidence. The rule coder
gives no such labels, so with it neither note appears. These are guidance, not MITI
thresholds, so they go to the feedback's notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from trainer.schema import Code, CodedUtterance, FeedbackItem, Role
from trainer.vocabulary import Level, OtherKind, TalkType

SUBCODE_CONFIDENCE = 0.5  # finer labels less sure than this are neither counted nor quoted
CHANGE_TALK_GUIDE = 0.5  # share of change talk followed up from which it reads as a strength
MAX_QUOTES = 2  # utterances quoted per note
BACKCHANNEL_WORDS = 3  # "Mm-hmm.", "Yeah, okay.": too short to take the floor
FOLLOW_UPS = (Code.SIMPLE_REFLECTION, Code.COMPLEX_REFLECTION, Code.OPEN_QUESTION)

# Matched on lower-case text without punctuation, as speech recognition may give it.
_CLIENT_ASKS = re.compile(
    r"\b(?:what|how) (?:should|can|could|do|would|shall) i\b|\bshould i\b"
    r"|\bwhat (?:do|would) you (?:think|suggest|recommend|advise|do)\b"
    r"|\bany (?:advice|ideas|suggestions|tips)\b|\b(?:can|could) you (?:help|tell|suggest|give)\b"
    r"|\btell me what to do\b"
)
_PERMISSION = re.compile(
    r"\bwould it be (?:all right|alright|ok|okay|fine|helpful)\b"
    r"|\bis it (?:all right|alright|ok|okay|fine) (?:if|with you)\b"
    r"|\b(?:can|could|may|might) i (?:share|offer|suggest|tell you|give you|make a suggestion|mention)\b"
    r"|\bmay i\b|\b(?:do|would) you mind if i\b"
    r"|\bwould you like (?:me to|to hear|some|any|a few|an? (?:idea|suggestion))\b"
    r"|\bif (?:it's|its|it is) (?:all right|alright|ok|okay|fine) with you\b|\bwith your permission\b"
    r"|\bare you (?:interested|open) (?:in|to) (?:hearing|some|an?)\b"
)


def _plain(text: str) -> str:
    """Lower case, punctuation (but apostrophes) as spaces, single-spaced."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower().replace("’", "'")).split())


def client_asks(text: str) -> bool:
    """Whether a client utterance is a question or asks what to do."""
    return "?" in text or bool(_CLIENT_ASKS.search(_plain(text)))


def asks_permission(text: str) -> bool:
    """Whether a counsellor utterance asks permission to share something."""
    return bool(_PERMISSION.search(_plain(text)))


def sure_subcode(coded: CodedUtterance) -> str | None:
    """The finer label used as evidence: a human's (no confidence) always, the coder's only when sure enough."""
    sure = coded.subcode_confidence is None or coded.subcode_confidence >= SUBCODE_CONFIDENCE
    return coded.subcode if sure else None


def _labelled(coded: CodedUtterance, subcode: str) -> bool:
    """Whether the utterance has this subcode, sure enough to use as evidence."""
    return sure_subcode(coded) == subcode


def _backchannel(coded: CodedUtterance) -> bool:
    """A short acknowledgement ("Mm.", "Yeah, okay."), which neither answers nor asks anything."""
    return (
        coded.code in (None, Code.OTHER)
        and coded.subcode not in (OtherKind.ADVICE, TalkType.CHANGE)
        and "?" not in coded.text
        and len(coded.text.split()) <= BACKCHANNEL_WORDS
    )


def _floor(utterances: Sequence[CodedUtterance]) -> list[CodedUtterance]:
    """The utterances that take the floor: backchannels left out, as listeners would hear them."""
    return [c for c in utterances if not _backchannel(c)]


def split_advice(utterances: Sequence[CodedUtterance]) -> tuple[list[CodedUtterance], list[CodedUtterance]]:
    """The counsellor's advice, as (asked for, unasked), in session order."""
    asked: list[CodedUtterance] = []
    unasked: list[CodedUtterance] = []
    last_client: CodedUtterance | None = None
    last_counsellor: CodedUtterance | None = None
    goes_on = False  # the utterance just before was the counsellor's asked-for advice
    for c in _floor(utterances):
        if c.speaker is Role.CLIENT:
            last_client, goes_on = c, False
            continue
        is_advice = c.code is Code.OTHER and _labelled(c, OtherKind.ADVICE)
        ok = is_advice and (
            goes_on
            or (last_client is not None and client_asks(last_client.text))
            or asks_permission(c.text)
            or (last_counsellor is not None and asks_permission(last_counsellor.text))
        )
        if is_advice:
            (asked if ok else unasked).append(c)
        goes_on = ok
        last_counsellor = c
    return asked, unasked


def split_change_talk(utterances: Sequence[CodedUtterance]) -> tuple[list[CodedUtterance], list[CodedUtterance]]:
    """Change talk the counsellor answered, as (followed up, missed): one quote per client turn."""
    followed: list[CodedUtterance] = []
    missed: list[CodedUtterance] = []
    turn: list[CodedUtterance] = []  # change talk in the client's current turn
    for c in _floor(utterances):
        if c.speaker is Role.CLIENT:
            if _labelled(c, TalkType.CHANGE):
                turn.append(c)
            continue
        if turn:
            quote = max(turn, key=lambda t: t.subcode_confidence or 1.0)
            (followed if c.code in FOLLOW_UPS else missed).append(quote)
        turn = []
    return followed, missed


def _quotes(chosen: Sequence[CodedUtterance]) -> tuple[str, ...]:
    """Up to MAX_QUOTES texts, the coder's surest first, short ones preferred."""
    ranked = sorted(chosen, key=lambda c: (-(c.subcode_confidence or 1.0), len(c.text)))
    return tuple(c.text for c in ranked[:MAX_QUOTES])


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def advice_note(utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    """How the trainee gave advice: unasked advice to work on, or advice given with permission."""
    asked, unasked = split_advice(utterances)
    if unasked:
        of_all = f" (of {len(asked) + len(unasked)} pieces of advice)" if asked else ""
        return FeedbackItem(
            "unasked_advice",
            "Ask before advising",
            f"You gave advice {_times(len(unasked))} without the client asking for it or you asking "
            f"permission first{of_all}. Advice lands best when the client asked for it or agreed to hear "
            "it: try 'Would it be all right if I shared what has worked for others?' first. Unasked advice:",
            float(len(unasked)),
            level=Level.PRACTISE,
            examples=_quotes(unasked),
        )
    if asked:
        return FeedbackItem(
            "unasked_advice",
            "Advice when asked",
            f"You gave advice {_times(len(asked))}, each time after the client asked for it or you asked "
            "permission, so it was more likely to be heard. For example:",
            0.0,
            level=Level.INFO,
            examples=_quotes(asked),
        )
    return None


def change_talk_note(utterances: Sequence[CodedUtterance]) -> FeedbackItem | None:
    """Whether the trainee reflected the client's change talk or let it pass."""
    followed, missed = split_change_talk(utterances)
    total = len(followed) + len(missed)
    if not total:
        return None
    share = len(followed) / total
    said = f"The client spoke in favour of change {_times(total)}"
    if share >= CHANGE_TALK_GUIDE:
        tail = " Change talk you let pass:" if missed else " For example, the client said:"
        return FeedbackItem(
            "change_talk",
            "You followed up change talk",
            f"{said} and you reflected it or asked about it {len(followed)} of {total} times ({share:.0%}). "
            f"Reflecting change talk helps the client hear their own reasons for change.{tail}",
            share,
            level=Level.INFO,
            examples=_quotes(missed or followed),
        )
    return FeedbackItem(
        "change_talk",
        "Catch the change talk",
        f"{said}, but you reflected it or asked about it only {len(followed)} of {total} times "
        f"({share:.0%}). Change talk grows when it is reflected back ('You want to be there for your kids') "
        "or explored with an open question. Change talk you let pass:",
        share,
        level=Level.PRACTISE,
        examples=_quotes(missed),
    )


def talk_notes(utterances: Sequence[CodedUtterance]) -> tuple[FeedbackItem, ...]:
    """The advice and change-talk notes the session's finer labels support (none without them)."""
    return tuple(i for i in (advice_note(utterances), change_talk_note(utterances)) if i is not None)
