"""The terminal view of one scored session: the same figures, ranges and levels as the app."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from trainer.batch.session_panel import render_session
from trainer.pipeline import run_session, summarise
from trainer.schema import Attribution, Role
from trainer.scoring.feedback import level_note
from trainer.vocabulary import METRIC


def shown(session, result: Path | None = None) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(render_session(session, result))
    return " ".join(out.getvalue().replace("│", " ").split())


def test_a_one_microphone_session_shows_each_range_and_how_to_swap_unsure_roles(transcript_csv, tmp_path):
    told = run_session(transcript_csv)
    voices = Attribution(
        turns=(), roles=(("S0", Role.COUNSELLOR), ("S1", Role.CLIENT)), method="diarization", role_confidence=0.62
    )
    session = summarise(told.source, told.duration_s, told.utterances, speakers=voices)
    text = shown(session, tmp_path / "session.json")
    assert " ".join(session.feedback.summary.split()) in text
    for key, low, high in session.metrics.intervals:  # every range the session has, in the metric's format
        metric, value = METRIC[key], getattr(session.metrics, key)
        assert f"{metric.label} {metric.show(value)} {metric.show(low)}–{metric.show(high)}" in text
        if note := level_note(key, (low, high)):
            assert note in text
    assert "counsellor_talk_share" in {k for k, _, _ in session.metrics.intervals}
    assert "Voices: 2 (one microphone); role confidence 62%" in text
    assert f"trainer swap-roles {tmp_path / 'session.json'}" in text
    assert all(item.title in text for item in (*session.feedback.practise, *session.feedback.strengths))


def test_a_transcript_has_no_voices_line_and_no_talk_range(transcript_csv):
    session = run_session(transcript_csv)
    text = shown(session)
    assert "Voices:" not in text and "swap-roles" not in text
    talk = METRIC["counsellor_talk_share"]
    assert f"{talk.label} {talk.show(session.metrics.counsellor_talk_share)} ≤ 50%" in text  # no range column
