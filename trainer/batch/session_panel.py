"""One scored session in the terminal: what a trainee reads after `trainer score week3.wav`.

The same figures as the app's feedback page and the printable report (labels from
trainer.vocabulary, ranges and uncertain levels as there), drawn with rich, so a
trainee who scores from the command line needs neither the JSON nor the app to see
how they listened and how sure each figure is.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trainer.app.session_report import clock
from trainer.schema import FeedbackItem, Session
from trainer.scoring.feedback import level_note
from trainer.speakers.roles import worth_checking
from trainer.vocabulary import LEVEL_LABELS, LEVEL_STYLES, METRICS


def _metrics(session: Session) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, pad_edge=False)
    for column in ("Metric", "You", "Likely", "Fair / good"):  # kept whole; the level wraps
        table.add_column(column, style="dim" if column in ("Likely", "Fair / good") else None, no_wrap=True)
    table.add_column("Level")
    m = session.metrics
    for metric in METRICS:
        value, interval = getattr(m, metric.key), m.interval(metric.key)
        level = metric.judge(value)
        said = level_note(metric.key, interval) or metric.verdict(value)
        marks = (
            f"{metric.show(metric.fair)} / {metric.show(metric.good)}"
            if metric.miti
            else f"≤ {metric.show(metric.guide)}"
        )
        table.add_row(
            metric.label,
            Text(metric.show(value), style=f"bold {LEVEL_STYLES[level]}"),
            metric.show_span(interval),
            marks,
            Text(said, style=LEVEL_STYLES[level]),
        )
    return table


def _items(heading: str, items: tuple[FeedbackItem, ...]) -> list[RenderableType]:
    if not items:
        return []
    parts: list[RenderableType] = [Text(heading, style="bold")]
    for item in items:
        badge = Text(f" {LEVEL_LABELS.get(item.level, item.level)} ", style="reverse")
        parts.append(badge + Text(f" {item.title}: ", style="bold") + Text(item.message))
        parts += [Text(f"    “{e}”", style="italic dim") for e in item.examples]
    return parts


def _voices(session: Session, result: Path | None) -> str:
    """How the speakers were found and how sure the roles are, in one line ('' for a transcript)."""
    a = session.speakers
    if a is None:
        return ""
    how = {"channel": "one per channel", "diarization": "one microphone", "reference": "from the reference"}
    line = f"Voices: {a.n_speakers} ({how.get(a.method, a.method)}); role confidence {a.role_confidence:.0%}"
    if worth_checking(a.method, a.role_confidence):
        line += f" (if counsellor and client are the wrong way round: trainer swap-roles {result or 'RESULT.json'})"
    return line


def render_session(session: Session, result: Path | None = None) -> RenderableType:
    """The session's summary, warnings, metrics with their likely ranges and levels, and feedback.

    `result` is the session's JSON, named where roles are worth swapping.
    """
    f = session.feedback
    parts: list[RenderableType] = [Text(f.summary, style="bold")]
    parts += [Text(f"Note: {w}", style="yellow") for w in session.warnings]
    parts += [Text(""), _metrics(session)]
    for heading, items in (("To practise next", f.practise), ("What went well", f.strengths), ("Also", f.notes)):
        block = _items(heading, items)
        if block:
            parts += [Text(""), *block]
    if voices := _voices(session, result):
        parts += [Text(""), Text(voices, style="dim")]
    length = f" · {clock(session.duration_s)}" if session.duration_s else ""
    return Panel(Group(*parts), title=f"{Path(session.source).name}{length}", title_align="left")
