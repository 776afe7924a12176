"""Instructor review: corrections applied to a scored session, and agreement with the machine.

Corrections are stored apart from the automatic result (trainer.app.store) and applied here
on every read; the corrected utterances go through `pipeline.summarise`, so metrics and
feedback always follow what the instructor decided, also after the session is re-scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from trainer.app.accounts import User
from trainer.batch.output import session_from_dict, session_to_dict
from trainer.errors import ReviewError
from trainer.pipeline import summarise
from trainer.safe_text import csv_text
from trainer.schema import Code, CodedUtterance, Role, Session
from trainer.scoring.change_talk import sure_subcode
from trainer.scoring.talk_time import talk_stats
from trainer.vocabulary import NO_SUBCODE, SUBCODES, TALK_TYPES

CSV_COLUMNS = (
    # speaker,start,end,text,code first: the file reads back as a transcript (`--keep-codes`)
    "speaker",
    "start",
    "end",
    "text",
    "code",
    "index",
    "confidence",
    "subcode",
    "automatic_speaker",
    "automatic_code",
    "comment",
    "automatic_subcode",
)


@dataclass(frozen=True)
class Correction:
    """An instructor's decision on one utterance; None fields leave the machine's choice."""

    index: int | None  # position in the current automatic result; None once it no longer matches
    text: str  # the utterance's text when corrected: finds it again after re-scoring
    start: float | None = None  # its start time then, to choose between repeated texts
    speaker: Role | None = None  # corrected speaker
    code: Code | None = None  # corrected code (counsellor utterances only)
    comment: str = ""
    author: str = ""
    created_at: str = ""  # ISO time, UTC
    # Corrected finer label: None leaves the machine's (which stands only while its speaker and
    # code do), NO_SUBCODE ("none") removes it; an other-kind needs code "other", a talk type a client.
    subcode: str | None = None

    @property
    def changes_coding(self) -> bool:
        """Whether it changes a speaker, a code or a subcode (rather than only commenting)."""
        return self.speaker is not None or self.code is not None or self.subcode is not None


@dataclass(frozen=True)
class Comment:
    """An instructor's comment on a whole session."""

    author: str
    text: str
    created_at: str = ""


@dataclass(frozen=True)
class StoredSession:
    """A scored session as kept in the store, with its corrections and comments."""

    id: int
    owner: User
    title: str  # the file name it was uploaded as, until renamed
    created_at: str  # ISO time, UTC
    content_hash: str  # sha256 of the uploaded bytes
    audio_path: str | None  # relative to the data directory
    document: Mapping[str, Any]  # the automatic result (output.session_to_dict)
    corrections: tuple[Correction, ...] = ()
    comments: tuple[Comment, ...] = ()
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    scenario: str = ""  # what was practised, e.g. "alcohol, ambivalent client"; "" when not tagged


@dataclass(frozen=True)
class Edit:
    """What a review form says one utterance should be."""

    speaker: Role
    code: Code | None
    comment: str = ""
    subcode: str | None = None  # the finer label shown or chosen; None for none


@dataclass(frozen=True)
class Reviewed:
    """A session as the machine scored it and as the instructor's corrections leave it."""

    automatic: Session
    session: Session  # corrections applied, metrics and feedback recomputed
    corrections: tuple[Correction, ...] = ()
    comments: tuple[Comment, ...] = ()

    def correction(self, index: int) -> Correction | None:
        """The correction applied to utterance `index`, if any."""
        return next((c for c in self.applied if c.index == index), None)

    @property
    def applied(self) -> tuple[Correction, ...]:
        """Corrections that still match their utterance, and whose subcode still fits it."""
        return tuple(c for c in self.corrections if _applies(c, self.automatic.utterances))

    @property
    def unmatched(self) -> tuple[Correction, ...]:
        """Corrections whose utterance a re-scoring changed beyond recognition (or under their subcode)."""
        return tuple(c for c in self.corrections if not _applies(c, self.automatic.utterances))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _matches(correction: Correction, utterances: Sequence[CodedUtterance]) -> bool:
    i = correction.index
    return i is not None and 0 <= i < len(utterances) and _norm(utterances[i].text) == _norm(correction.text)


def subcode_problem(speaker: Role, code: Code | None, subcode: str | None) -> str | None:
    """Why a finer label cannot go with this speaker and code, or None when it can."""
    if subcode is None or subcode == NO_SUBCODE:
        return None
    if subcode not in SUBCODES:
        return f"{subcode!r} is not a subcode; use one of {', '.join(SUBCODES)}"
    if subcode in TALK_TYPES:
        return None if speaker is Role.CLIENT else f"{subcode!r} is client talk and cannot label counsellor speech"
    if speaker is Role.CLIENT:
        return f"{subcode!r} is a kind of counsellor 'other' and cannot label client speech"
    return None if code is Code.OTHER else f"{subcode!r} needs the code 'other', not {_value(code)!r}"


def _decided(machine: CodedUtterance, fix: Correction | None) -> tuple[Role, Code | None, str | None]:
    """Speaker, code and subcode after a correction (client speech has no code).

    The machine's subcode stands only while its speaker and code do: it labels them.
    """
    speaker = (fix.speaker if fix else None) or machine.speaker
    code = None if speaker is Role.CLIENT else ((fix.code if fix else None) or machine.code)
    if fix is not None and fix.subcode is not None:
        return speaker, code, None if fix.subcode == NO_SUBCODE else fix.subcode
    same = speaker is machine.speaker and code is machine.code
    return speaker, code, machine.subcode if same else None


def _applies(correction: Correction, utterances: Sequence[CodedUtterance]) -> bool:
    """Matches its utterance, and its subcode fits it (re-scoring may change the code under it)."""
    if not _matches(correction, utterances):
        return False
    return correction.subcode is None or subcode_problem(*_decided(utterances[correction.index], correction)) is None


def locate(corrections: Sequence[Correction], utterances: Sequence[CodedUtterance]) -> tuple[int | None, ...]:
    """Where each correction's utterance is in a (re-scored) result: same text, nearest start."""
    taken = {c.index for c in corrections if _matches(c, utterances)}
    found: list[int | None] = []
    for c in corrections:
        if _matches(c, utterances):
            found.append(c.index)
            continue
        same = [i for i, u in enumerate(utterances) if i not in taken and _norm(u.text) == _norm(c.text)]
        if not same:
            found.append(None)
            continue
        best = min(same, key=lambda i: abs((utterances[i].utterance.start or 0.0) - (c.start or 0.0)))
        taken.add(best)
        found.append(best)
    return tuple(found)


def apply_corrections(automatic: Session, corrections: Sequence[Correction]) -> tuple[CodedUtterance, ...]:
    """The coded utterances with every matching correction applied.

    A human's code or subcode carries no confidence, so feedback takes it as given.

    Raises:
        ReviewError: a corrected subcode does not fit the utterance's (corrected) speaker and code.
    """
    by_index = {c.index: c for c in corrections if c.changes_coding and _matches(c, automatic.utterances)}
    coded = []
    for i, machine in enumerate(automatic.utterances):
        fix = by_index.get(i)
        speaker, code, subcode = _decided(machine, fix)
        if fix is not None and fix.subcode is not None and (problem := subcode_problem(speaker, code, subcode)):
            raise ReviewError(f"utterance #{i}: {problem}")
        same = speaker is machine.speaker and code is machine.code
        if same and (fix is None or fix.subcode is None):
            coded.append(machine)
        else:  # a human decision: the coder's confidence no longer applies to what was changed
            utterance = replace(machine.utterance, speaker=speaker)
            coded.append(CodedUtterance(utterance, code, machine.confidence if same else None, subcode))
    return tuple(coded)


def review(
    document: Mapping[str, Any],
    corrections: Sequence[Correction] = (),
    comments: Sequence[Comment] = (),
    confirmed: bool = False,
) -> Reviewed:
    """Rebuild a stored result and recompute its metrics and feedback with the corrections.

    `confirmed`: an instructor marked the session reviewed, so every code stands as theirs
    and the metrics carry no range.
    """
    automatic = session_from_dict(document)
    reviewed = Reviewed(automatic, automatic, tuple(corrections), tuple(comments))
    warnings = automatic.warnings
    if reviewed.unmatched:
        warnings += (f"{len(reviewed.unmatched)} instructor correction(s) no longer match the re-scored transcript",)
    coded = apply_corrections(automatic, reviewed.applied)  # stored data: misfits are reported, not raised
    if confirmed:
        coded = tuple(replace(c, probabilities=None) for c in coded)
    moved = any(a.speaker is not b.speaker for a, b in zip(automatic.utterances, coded))
    session = summarise(
        automatic.source,
        automatic.duration_s,
        coded,
        speakers=automatic.speakers,
        transcript_model=automatic.transcript_model,
        coder=automatic.coder,
        warnings=warnings,
        # An instructor moved an utterance, not its words' voices: then utterance spans stand in.
        talk=talk_stats([c.utterance for c in coded]) if moved else automatic.talk,
    )
    return replace(reviewed, session=session)


def corrections_from_edits(
    reviewed: Reviewed, edits: Mapping[int, Edit], author: str = ""
) -> dict[int, Correction | None]:
    """Corrections to store (None: remove) for the utterances whose edit changes anything.

    A subcode left as shown that no longer fits an edited speaker or code is dropped, as the
    machine's would be; one newly chosen that does not fit is an error.

    Raises:
        ReviewError: an edit's subcode does not fit its speaker and code.
    """
    changes: dict[int, Correction | None] = {}
    for i, edit in edits.items():
        machine = reviewed.automatic.utterances[i]
        code = None if edit.speaker is Role.CLIENT else edit.code
        subcode = edit.subcode
        if problem := subcode_problem(edit.speaker, code, subcode):
            if subcode != sure_subcode(reviewed.session.utterances[i]):
                raise ReviewError(f"utterance #{i}: {problem}")
            subcode = None
        same = edit.speaker is machine.speaker and code is machine.code
        unless_corrected = sure_subcode(machine) if same else None  # the label feedback would use
        new = Correction(
            i,
            machine.text,
            machine.utterance.start,
            speaker=edit.speaker if edit.speaker is not machine.speaker else None,
            code=code if code is not None and code is not machine.code else None,
            comment=edit.comment.strip(),
            author=author,
            subcode=None if subcode == unless_corrected else subcode or NO_SUBCODE,
        )
        wanted = new if new.changes_coding or new.comment else None
        if _decision(reviewed.correction(i)) != _decision(wanted):
            changes[i] = wanted
    return changes


def _decision(c: Correction | None) -> tuple[Role | None, Code | None, str | None, str] | None:
    """What a correction decides, ignoring who made it and when."""
    return None if c is None else (c.speaker, c.code, c.subcode, c.comment)


@dataclass(frozen=True)
class CodeAgreement:
    """How the machine and the instructor used one code."""

    code: Code
    automatic: int  # utterances the machine gave this code
    instructor: int  # utterances with this code after review
    agreed: int  # utterances both gave this code

    @property
    def kept_share(self) -> float | None:
        """Of the machine's codes, the share the instructor kept (precision)."""
        return self.agreed / self.automatic if self.automatic else None

    @property
    def found_share(self) -> float | None:
        """Of the instructor's codes, the share the machine had found (recall)."""
        return self.agreed / self.instructor if self.instructor else None


@dataclass(frozen=True)
class Agreement:
    """Agreement of automatic and instructor codes over reviewed counsellor utterances."""

    per_code: tuple[CodeAgreement, ...]
    compared: int  # utterances either side calls counsellor speech
    agreed: int  # of those, with the same code (a speaker change counts as disagreement)
    kappa: float | None  # Cohen's kappa, chance-corrected; None when undefined

    @property
    def share(self) -> float | None:
        """Raw agreement, 0..1."""
        return self.agreed / self.compared if self.compared else None


def code_pairs(reviewed: Reviewed) -> tuple[tuple[Code | None, Code | None], ...]:
    """(automatic, instructor) code per utterance that either side calls counsellor speech."""
    pairs = []
    for machine, final in zip(reviewed.automatic.utterances, reviewed.session.utterances):
        if Role.COUNSELLOR in (machine.speaker, final.speaker):
            pairs.append((machine.code, final.code))
    return tuple(pairs)


def agreement(pairs: Iterable[tuple[Code | None, Code | None]]) -> Agreement:
    """Per-code counts, raw agreement and Cohen's kappa (None stands for 'not counsellor')."""
    pairs = list(pairs)
    machine, human = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    both = Counter(a for a, b in pairs if a == b)
    n, agreed = len(pairs), sum(both.values())
    kappa = None
    if n:
        expected = sum(machine[k] * human[k] for k in machine) / n**2
        kappa = (agreed / n - expected) / (1 - expected) if expected < 1 else None
    per_code = tuple(CodeAgreement(code, machine[code], human[code], both[code]) for code in Code)
    return Agreement(per_code, n, agreed, kappa)


def _value(x: Role | Code | None) -> str | None:
    return x.value if x is not None else None


def export_document(stored: StoredSession, reviewed: Reviewed) -> dict[str, Any]:
    """The session's JSON document as corrected, with the review and the automatic metrics."""
    document = session_to_dict(reviewed.session)
    machine = reviewed.automatic.utterances
    document["review"] = {
        "session_id": stored.id,
        "trainee": stored.owner.name,
        "cohort": stored.owner.cohort,
        "title": stored.title,
        "scenario": stored.scenario,
        "created_at": stored.created_at,
        "content_hash": stored.content_hash,
        "reviewed_by": stored.reviewed_by,
        "reviewed_at": stored.reviewed_at,
        "corrections": [
            {
                "index": c.index,
                "text": c.text,
                "start": c.start,
                "automatic_speaker": _value(machine[c.index].speaker) if c in reviewed.applied else None,
                "automatic_code": _value(machine[c.index].code) if c in reviewed.applied else None,
                "automatic_subcode": machine[c.index].subcode if c in reviewed.applied else None,
                "speaker": _value(c.speaker),
                "code": _value(c.code),
                "subcode": c.subcode,  # None: not corrected; "none": removed
                "comment": c.comment,
                "author": c.author,
                "created_at": c.created_at,
                "applied": c in reviewed.applied,
            }
            for c in reviewed.corrections
        ],
        "comments": [{"author": c.author, "text": c.text, "created_at": c.created_at} for c in reviewed.comments],
        "automatic_metrics": session_to_dict(reviewed.automatic)["metrics"],
    }
    return document


def export_csv(reviewed: Reviewed) -> str:
    """One row per utterance as corrected, beside the machine's speaker and code."""
    rows = []
    for i, (machine, final) in enumerate(zip(reviewed.automatic.utterances, reviewed.session.utterances)):
        fix = reviewed.correction(i)
        u = final.utterance
        rows.append(
            {
                "speaker": u.speaker.value,
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "code": _value(final.code) or "",
                "index": i,
                "confidence": "" if final.confidence is None else round(final.confidence, 3),
                "subcode": final.subcode or "",
                "automatic_speaker": machine.speaker.value,
                "automatic_code": _value(machine.code) or "",
                "comment": fix.comment if fix else "",
                "automatic_subcode": machine.subcode or "",
            }
        )
    return csv_text(CSV_COLUMNS, rows)
