"""Load the AnnoMI development transcripts and split them into grouped folds.

AnnoMI (Wu et al., ICASSP 2022) is the expert-annotated corpus the behaviour coder
learns from. Three files describe it (see ``data/annomi/README.md``): the whole
conversations, the derived five-way counsellor label and the per-annotator rows that
carry the therapist-input subtypes. This module joins them into one annotated
conversation per transcript, and keeps transcripts cut from one video or series in
the same cross-validation fold so that no fold tests on a scenario it trained on.
"""

from __future__ import annotations

import csv
import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import InputError, one_line
from trainer.schema import Code, Role, Utterance
from trainer.vocabulary import NO_SUBCODE, OTHER_KINDS, TALK_TYPES

logger = logging.getLogger("trainer")

# Behaviours an annotator can mark in a counsellor utterance besides its main one.
PRESENT_LABELS = ("open_question", "closed_question", "simple_reflection", "complex_reflection")
# The development portion kept in the repository (data/annomi, see its README).
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "annomi"

# The three files of an AnnoMI folder and the columns read from each.
COLUMNS = {
    "dev_simple.csv": (
        "transcript_id",
        "utterance_id",
        "mi_quality",
        "video_title",
        "video_url",
        "topic",
        "interlocutor",
        "timestamp",
        "utterance_text",
        "client_talk_type",
    ),
    "dev_therapist5.csv": ("transcript_id", "utterance_id", "label5"),
    "dev.csv": (
        "transcript_id",
        "utterance_id",
        "interlocutor",
        "main_therapist_behaviour",
        "therapist_input_subtype",
        "question_exists",
        "question_subtype",
        "reflection_exists",
        "reflection_subtype",
    ),
}

_ROLES = {"therapist": Role.COUNSELLOR, "client": Role.CLIENT}
_TIMESTAMP = re.compile(r"(\d{1,2}):([0-5]\d):([0-5]\d)")
# "Part 2:", "PART I", "- 3" at the end: markers of one video cut into a series.
_PART = re.compile(r"\bpart\s+(?:\d+|one|two|three|four|five|i{1,3}|iv|v)\b|\s-\s*\d+\s*$|\s\d+\s*$")
# Words that tell a matched high/low-quality pair of one scenario apart.
_QUALITY = re.compile(
    r"\b(?:with(?:out)? mi|(?:in)?effective|how not to do|non-motivational approach|"
    r"motivational interviewing (?:demonstration|approach))\b"
)


@dataclass(frozen=True)
class AnnotatedUtterance:
    """One utterance of a transcript with its expert labels."""

    utterance: Utterance
    utterance_id: int  # position in the transcript as AnnoMI numbers it
    code: Code | None  # five-way label; None for client utterances
    # Therapist-input kind for code "other" ("none" when it is not therapist input);
    # talk type for a client utterance; None for other codes.
    subcode: str | None
    # Counsellor utterances: share of annotators who marked each of PRESENT_LABELS in it,
    # whatever they chose as its main behaviour (a reflection may end in a question).
    present: tuple[float, ...] | None = None


@dataclass(frozen=True)
class AnnotatedTranscript:
    """One annotated conversation."""

    transcript_id: int
    group: str  # series key: transcripts sharing it always share a fold
    mi_quality: str  # "high" or "low"
    topic: str
    utterances: tuple[AnnotatedUtterance, ...]

    @property
    def plain(self) -> tuple[Utterance, ...]:
        """The conversation without labels, as a coder receives it."""
        return tuple(a.utterance for a in self.utterances)


def parse_timestamp(text: str) -> float | None:
    """Seconds from an ``HH:MM:SS`` start time; None when malformed (e.g. ``00:09:025``)."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    hours, minutes, seconds = (int(g) for g in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def series_key(title: str) -> str:
    """Title with part numbers and quality markers removed, so a series maps to one key."""
    key = title.lower()
    if _PART.search(key):
        key = _PART.sub(" ", key)
        # Parts of one series often carry their own subtitle after a comma or bracket.
        key = re.split(r"[,(]", key)[0]
    key = _QUALITY.sub(" ", key)
    return " ".join(re.sub(r"[^a-z ]", " ", key).split())


def looks_swapped(utterances: Sequence[Utterance]) -> bool:
    """Whether the client talks like the counsellor: more questions and more "you" than "I".

    Some AnnoMI transcripts reportedly have the two roles swapped; training on them
    would teach the coder that a client's story is counselling.
    """

    def profile(role: Role) -> tuple[float, float]:
        texts = [u.text for u in utterances if u.speaker is role]
        words = re.findall(r"[a-z']+", " ".join(texts).lower())
        you = sum(w in {"you", "your", "you're", "yourself"} for w in words)
        me = sum(w in {"i", "me", "my", "i'm", "myself"} for w in words)
        questions = sum("?" in t for t in texts) / max(1, len(texts))
        return questions, (you - me) / max(1, len(words))

    counsellor, client = profile(Role.COUNSELLOR), profile(Role.CLIENT)
    return client[0] > counsellor[0] and client[1] > counsellor[1]


def _read(data_dir: Path, name: str) -> list[dict[str, str]]:
    """The rows of one of the folder's files, once it is known to have the columns read from it."""
    path = data_dir / name
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS[name] if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(f"{path}: lacks the column {missing[0]!r}")
            return list(reader)
    except FileNotFoundError as e:
        raise InputError(f"{path}: not found; the AnnoMI folder holds {', '.join(COLUMNS)}") from e
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot be read as AnnoMI's CSV ({one_line(e)})") from e


def _other_subtypes(rows: Iterable[dict[str, str]]) -> dict[tuple[int, int], str]:
    """Majority therapist-input subtype per counsellor utterance, over all its annotators."""
    votes: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for row in rows:
        # Only annotators who also saw "other" or therapist input vote on its kind.
        if row["main_therapist_behaviour"] not in ("therapist_input", "other"):
            continue
        is_input = row["main_therapist_behaviour"] == "therapist_input"
        subtype = row["therapist_input_subtype"] if is_input else NO_SUBCODE
        if subtype not in OTHER_KINDS:
            subtype = NO_SUBCODE
        votes[(int(row["transcript_id"]), int(row["utterance_id"]))][subtype] += 1
    # Ties go to the subtype listed first in OTHER_KINDS + "none", for determinism.
    order = (*OTHER_KINDS, NO_SUBCODE)
    return {k: max(order, key=lambda s: (c[s], -order.index(s))) for k, c in votes.items()}


def _present(rows: Iterable[dict[str, str]]) -> dict[tuple[int, int], tuple[float, ...]]:
    """Per counsellor utterance, the share of its annotators who marked each of PRESENT_LABELS."""
    marks: dict[tuple[int, int], list[tuple[float, ...]]] = defaultdict(list)
    for row in rows:
        if row["interlocutor"] != "therapist":
            continue
        question = row["question_subtype"] if row["question_exists"] == "True" else ""
        reflection = row["reflection_subtype"] if row["reflection_exists"] == "True" else ""
        kinds = (f"{question}_question", f"{reflection}_reflection")
        marks[(int(row["transcript_id"]), int(row["utterance_id"]))].append(
            tuple(float(label in kinds) for label in PRESENT_LABELS)
        )
    return {k: tuple(sum(column) / len(votes) for column in zip(*votes)) for k, votes in marks.items()}


def _groups(titles: dict[int, tuple[str, str]]) -> dict[int, str]:
    """Union transcripts that share a video URL or a series key; name each group by its first id."""
    parent = {t: t for t in titles}

    def find(t: int) -> int:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    first: dict[str, int] = {}
    for t, (title, url) in sorted(titles.items()):
        for key in (f"url:{url.strip()}", f"title:{series_key(title)}"):
            if key in first:
                parent[find(t)] = find(first[key])
            else:
                first[key] = t
    return {t: f"g{find(t)}" for t in titles}


def load_annomi(data_dir: Path = DATA_DIR, skip_swapped: bool = True) -> tuple[AnnotatedTranscript, ...]:
    """Read the development transcripts with labels, in transcript order.

    Args:
        data_dir: folder holding ``dev_simple.csv``, ``dev_therapist5.csv`` and ``dev.csv``.
        skip_swapped: drop transcripts whose roles look swapped (logged as a warning).

    Raises:
        InputError: a file is missing, unreadable or not in AnnoMI's columns and values.
    """
    try:
        return _load(data_dir, skip_swapped)
    except (KeyError, ValueError, TypeError) as e:  # a number, role or label that is not AnnoMI's, or a short row
        raise InputError(f"{data_dir}: an AnnoMI file holds a value it cannot have ({e})") from e


def _load(data_dir: Path, skip_swapped: bool) -> tuple[AnnotatedTranscript, ...]:
    simple = _read(data_dir, "dev_simple.csv")
    if not simple:
        raise InputError(f"{data_dir / 'dev_simple.csv'}: no utterances in it")
    label5 = {
        (int(r["transcript_id"]), int(r["utterance_id"])): Code(r["label5"])
        for r in _read(data_dir, "dev_therapist5.csv")
    }
    full = _read(data_dir, "dev.csv")
    subtypes = _other_subtypes(full)
    present = _present(full)
    by_transcript: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in simple:
        by_transcript[int(row["transcript_id"])].append(row)
    groups = _groups({t: (rows[0]["video_title"], rows[0]["video_url"]) for t, rows in by_transcript.items()})

    transcripts = []
    for tid, rows in sorted(by_transcript.items()):
        rows.sort(key=lambda r: int(r["utterance_id"]))
        utterances = _annotate(tid, rows, label5, subtypes, present)
        plain = [a.utterance for a in utterances]
        if skip_swapped and looks_swapped(plain):
            logger.warning("transcript %d: counsellor and client look swapped; skipped", tid)
            continue
        transcripts.append(
            AnnotatedTranscript(tid, groups[tid], rows[0]["mi_quality"], rows[0]["topic"], tuple(utterances))
        )
    return tuple(transcripts)


def _annotate(
    tid: int,
    rows: list[dict[str, str]],
    label5: dict[tuple[int, int], Code],
    subtypes: dict[tuple[int, int], str],
    present: dict[tuple[int, int], tuple[float, ...]],
) -> list[AnnotatedUtterance]:
    """Turn one transcript's rows into labelled utterances with trustworthy times."""
    starts: list[float | None] = []
    latest = -1.0
    for row in rows:
        start = parse_timestamp(row["timestamp"])
        if start is None or start < latest:
            # Malformed or out-of-order times are dropped rather than guessed.
            logger.debug("transcript %d utterance %s: bad timestamp %r", tid, row["utterance_id"], row["timestamp"])
            start = None
        else:
            latest = start
        starts.append(start)
    out = []
    for i, row in enumerate(rows):
        uid = int(row["utterance_id"])
        role = _ROLES[row["interlocutor"]]
        end = next((s for s in starts[i + 1 :] if s is not None), None)
        start = starts[i]
        utterance = Utterance(role, row["utterance_text"], start, end if start is not None else None)
        if role is Role.COUNSELLOR:
            code = label5.get((tid, uid))
            subcode = subtypes.get((tid, uid), NO_SUBCODE) if code is Code.OTHER else None
        else:
            code = None
            subcode = row["client_talk_type"] if row["client_talk_type"] in TALK_TYPES else None
        out.append(AnnotatedUtterance(utterance, uid, code, subcode, present.get((tid, uid))))
    return out


def grouped_folds(
    transcripts: Sequence[AnnotatedTranscript], n_folds: int = 5, seed: int = 0
) -> list[tuple[list[int], list[int]]]:
    """Split transcript indices into folds of similar size that never split a group.

    Groups are shuffled with ``seed`` and then placed largest first into the fold with
    the fewest utterances so far, so folds stay balanced despite one very long session.

    Returns:
        One ``(train_indices, test_indices)`` pair per fold.
    """
    members: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(transcripts):
        members[t.group].append(i)
    if len(members) < n_folds:
        raise ValueError(f"{len(members)} groups cannot fill {n_folds} folds")
    names = sorted(members)
    random.Random(seed).shuffle(names)
    size = {g: sum(len(transcripts[i].utterances) for i in members[g]) for g in names}
    names.sort(key=lambda g: -size[g])  # stable: equal sizes keep their shuffled order
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    load = [0] * n_folds
    for g in names:
        k = load.index(min(load))
        folds[k].extend(members[g])
        load[k] += size[g]
    everything = set(range(len(transcripts)))
    return [(sorted(everything - set(f)), sorted(f)) for f in folds]
