"""Result formats: one JSON per session and one summary.csv row per input.

These keys and columns are a public format that other tools read: extend it,
never rename or drop a key.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trainer import __version__
from trainer.safe_text import csv_text
from trainer.schema import (
    Attribution,
    Code,
    CodedUtterance,
    Evidence,
    Feedback,
    FeedbackItem,
    Metrics,
    QualityEstimate,
    Role,
    Session,
    TalkStats,
    Utterance,
)
from trainer.scoring.intervals import INTERVAL_KEYS
from trainer.vocabulary import METRIC_KEYS

TALK_PER_ROLE = ("speaking_s", "longest_s", "response_pause_s")  # metrics.talk keys holding a value per role
TALK_RANGE_COLUMNS = ("counsellor_talk_share_low", "counsellor_talk_share_high")
# How the voices were found and how sure the roles are, so a batch's doubtful sessions can be sorted out.
SPEAKER_COLUMNS = ("speakers_method", "n_speakers", "role_confidence", "speech_over_background_db")
SUMMARY_COLUMNS = (
    "file",
    "status",
    "error",
    "warnings",
    "duration_s",
    "n_utterances",
    "n_counsellor_utterances",
    *(c.value for c in Code),
    *METRIC_KEYS,
    "json",
    # Appended later: the likely range of each coded metric (empty where codes are certain),
    *(f"{key}_{end}" for key in INTERVAL_KEYS for end in ("low", "high")),
    # then of talk share (empty where the speakers are certain: channels, transcripts),
    *TALK_RANGE_COLUMNS,
    # then the speakers (empty for transcripts, which bring their own).
    *SPEAKER_COLUMNS,
)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _item_dict(item: FeedbackItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "title": item.title,
        "message": item.message,
        "value": _round(item.value),
        "fair": item.fair,
        "good": item.good,
        "level": item.level,
        "examples": list(item.examples),
        "low": _round(item.low),
        "high": _round(item.high),
        "level_note": item.level_note,
    }


def _utterance_dict(c: CodedUtterance) -> dict[str, Any]:
    u = c.utterance
    return {
        "speaker": u.speaker.value,
        "start": u.start,
        "end": u.end,
        "text": u.text,
        "code": c.code.value if c.code else None,
        "confidence": _round(c.confidence, 3),
        "subcode": c.subcode,
        "subcode_confidence": _round(c.subcode_confidence, 3),
        "probabilities": None
        if c.probabilities is None
        else {code.value: round(p, 4) for code, p in zip(Code, c.probabilities)},
    }


def _speakers_dict(a: Attribution) -> dict[str, Any]:
    return {
        "method": a.method,
        "role_confidence": _round(a.role_confidence, 3),
        "n_speakers": a.n_speakers,
        "speech_over_background_db": _round(a.speech_over_background_db, 1),
        "roles": {label: role.value for label, role in a.roles},
        "turns": [{"start": round(t.start, 2), "end": round(t.end, 2), "speaker": t.speaker} for t in a.turns],
        # Every word with its voice, so roles can be chosen again without transcribing again.
        "words": [
            {"start": round(w.start, 3), "end": round(w.end, 3), "text": w.text, "speaker": w.speaker} for w in a.words
        ],
        "observers": list(a.observers),
    }


def _talk_dict(t: TalkStats) -> dict[str, Any]:
    per_role = {key: {role.value: v for role, v in getattr(t, key)} for key in TALK_PER_ROLE}
    return {**per_role, "overlap_s": t.overlap_s}


def _talk(d: Mapping[str, Any]) -> TalkStats:
    per_role = {key: tuple((Role(r), v) for r, v in d.get(key, {}).items()) for key in TALK_PER_ROLE}
    return TalkStats(overlap_s=d.get("overlap_s", 0.0), **per_role)


def _quality_dict(q: QualityEstimate) -> dict[str, Any]:
    return {
        "probability_high": round(q.probability_high, 3),
        "indicator": q.indicator,
        "evidence": [
            {
                "feature": e.feature,
                "label": e.label,
                "value": round(e.value, 3),
                "typical_high": round(e.typical_high, 3),
                "typical_low": round(e.typical_low, 3),
                "toward": e.toward,
            }
            for e in q.evidence
        ],
        "note": "An estimate for instructors from the coded session (AnnoMI high/low MI quality), not a grade.",
    }


def _quality(d: Mapping[str, Any]) -> QualityEstimate:
    evidence = tuple(
        Evidence(e["feature"], e["label"], e["value"], e["typical_high"], e["typical_low"], e["toward"])
        for e in d["evidence"]
    )
    return QualityEstimate(d["probability_high"], d["indicator"], evidence)


def session_to_dict(session: Session) -> dict[str, Any]:
    """The JSON document of one scored session."""
    m = session.metrics
    return {
        "source": session.source,
        "duration_s": session.duration_s,
        "utterances": [_utterance_dict(c) for c in session.utterances],
        "metrics": {
            **{key: _round(getattr(m, key)) for key in METRIC_KEYS},
            "counts": {code.value: n for code, n in m.counts},
            "talk_basis": m.talk_basis,
            "talk": _talk_dict(session.talk) if session.talk else None,
            "intervals": {key: {"low": _round(low), "high": _round(high)} for key, low, high in m.intervals},
        },
        "feedback": {
            "summary": session.feedback.summary,
            "strengths": [_item_dict(i) for i in session.feedback.strengths],
            "practise": [_item_dict(i) for i in session.feedback.practise],
            "notes": [_item_dict(i) for i in session.feedback.notes],
        },
        "speakers": _speakers_dict(session.speakers) if session.speakers else None,
        "transcript_model": session.transcript_model,
        "coder": session.coder,
        "warnings": list(session.warnings),
        "mi_quality": _quality_dict(session.quality) if session.quality else None,
        "version": __version__,
    }


def _item(d: Mapping[str, Any]) -> FeedbackItem:
    return FeedbackItem(
        d["key"],
        d["title"],
        d["message"],
        d.get("value"),
        d.get("fair"),
        d.get("good"),
        d.get("level", "info"),
        tuple(d.get("examples", ())),
        d.get("low"),
        d.get("high"),
        d.get("level_note", ""),
    )


def session_from_dict(data: Mapping[str, Any]) -> Session:
    """Rebuild a Session from its JSON document (for the store and the app)."""
    coded = tuple(
        CodedUtterance(
            Utterance(Role(u["speaker"]), u["text"], u.get("start"), u.get("end")),
            Code(u["code"]) if u.get("code") else None,
            u.get("confidence"),
            u.get("subcode"),
            u.get("subcode_confidence"),
            tuple(u["probabilities"][code.value] for code in Code) if u.get("probabilities") else None,
        )
        for u in data["utterances"]
    )
    m, f = data["metrics"], data["feedback"]
    metrics = Metrics(
        **{key: m.get(key) for key in METRIC_KEYS},
        counts=tuple((Code(k), int(v)) for k, v in m.get("counts", {}).items()),
        talk_basis=m.get("talk_basis", "seconds"),
        intervals=tuple((key, r["low"], r["high"]) for key, r in (m.get("intervals") or {}).items()),
    )
    feedback = Feedback(
        f["summary"], *(tuple(_item(i) for i in f.get(k, ())) for k in ("strengths", "practise", "notes"))
    )
    s = data.get("speakers")
    speakers = None
    if s:
        from trainer.schema import SpeakerTurn, Word

        speakers = Attribution(
            turns=tuple(SpeakerTurn(t["start"], t["end"], t["speaker"]) for t in s.get("turns", ())),
            roles=tuple((label, Role(role)) for label, role in s.get("roles", {}).items()),
            method=s["method"],
            role_confidence=s.get("role_confidence", 1.0),
            n_speakers=s.get("n_speakers", 2),
            words=tuple(Word(w["start"], w["end"], w["text"], speaker=w["speaker"]) for w in s.get("words", ())),
            observers=tuple(s.get("observers", ())),
            speech_over_background_db=s.get("speech_over_background_db"),
        )
    return Session(
        data["source"],
        data.get("duration_s"),
        coded,
        metrics,
        feedback,
        speakers,
        data.get("transcript_model", ""),
        data.get("coder", ""),
        tuple(data.get("warnings", ())),
        talk=_talk(m["talk"]) if m.get("talk") else None,
        quality=_quality(data["mi_quality"]) if data.get("mi_quality") else None,
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_text(value: Any, indent: int | None = 2) -> str:
    """Strict JSON: NaN and Infinity, which Python writes by default but no JSON reader has to accept, raise.

    Raises:
        ValueError: a float in `value` is nan or infinite.
    """
    return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)


def write_session_json(session: Session, path: Path) -> None:
    """Write one session's JSON document atomically."""
    atomic_write_text(path, json_text(session_to_dict(session)) + "\n")


def summary_row(file: str, session: Session | None = None, error: str = "", json_path: str = "") -> dict[str, Any]:
    """One summary.csv row: the session's figures, or its error."""
    row: dict[str, Any] = {col: "" for col in SUMMARY_COLUMNS}
    row.update(file=file, status="ok" if session else "error", error=error.replace("\n", " "))
    if session:
        m = session.metrics
        row.update(
            warnings="; ".join(session.warnings),
            duration_s=session.duration_s or "",
            n_utterances=len(session.utterances),
            n_counsellor_utterances=sum(c.speaker is Role.COUNSELLOR for c in session.utterances),
            json=json_path,
            **{code.value: n for code, n in m.counts},
            **{key: "" if getattr(m, key) is None else round(getattr(m, key), 4) for key in METRIC_KEYS},
            **{f"{key}_low": round(low, 4) for key, low, _ in m.intervals},
            **{f"{key}_high": round(high, 4) for key, _, high in m.intervals},
        )
        if (a := session.speakers) is not None:
            level = _round(a.speech_over_background_db, 1)
            row.update(
                speakers_method=a.method,
                n_speakers=a.n_speakers,
                role_confidence=_round(a.role_confidence, 3),
                speech_over_background_db="" if level is None else level,
            )
    return row


def write_summary(rows: Iterable[Mapping[str, Any]], path: Path) -> None:
    """Write summary.csv atomically, columns in SUMMARY_COLUMNS order, no cell a formula."""
    atomic_write_text(path, csv_text(SUMMARY_COLUMNS, rows))
