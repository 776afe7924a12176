"""How a session looks: colours for codes and levels, and a printable HTML report.

The app draws with the same labels (trainer.vocabulary) and colours, so a code looks the
same on screen and on paper. The report is one self-contained HTML file (no scripts, no external files)
that prints cleanly from any browser, or saves as PDF from the print dialogue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainer.safe_text import html_text
from trainer.schema import Code, CodedUtterance, FeedbackItem, QualityEstimate
from trainer.scoring.feedback import level_note
from trainer.vocabulary import CODE_LABELS, LEVEL_LABELS, METRIC, METRICS, ROLE_LABELS, Level

if TYPE_CHECKING:
    from trainer.app.review import Reviewed, StoredSession

LOW_CONFIDENCE = 0.6  # codes the coder was less sure of than this are marked for a second look
# Streamlit's colour names (st.badge, :color-background[...]), so the app needs no CSS.
CODE_COLOURS = {
    Code.OPEN_QUESTION: "green",
    Code.CLOSED_QUESTION: "orange",
    Code.SIMPLE_REFLECTION: "blue",
    Code.COMPLEX_REFLECTION: "violet",
    Code.OTHER: "gray",
}
COLOUR_HEX = {
    "green": "#2e9d58",
    "orange": "#e07b12",
    "blue": "#2f7ed8",
    "violet": "#8a4fd3",
    "gray": "#8a8f98",
    "red": "#d64545",
    "slate": "#475569",
}
CLIENT_COLOUR = "slate"
LEVEL_COLOURS = {Level.GOOD: "green", Level.FAIR: "orange", Level.PRACTISE: "red", Level.INFO: "gray"}


def machine_label(machine: CodedUtterance) -> str:
    """What the coder said of an utterance an instructor corrected: code or speaker, and its finer label.

    The finer label matters since an instructor may correct only it (advice that was information).
    """
    said = CODE_LABELS[machine.code] if machine.code else ROLE_LABELS[machine.speaker].lower()
    return f"{said} ({machine.subcode})" if machine.subcode else said


_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1f2933; max-width: 860px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #52606d; } table { border-collapse: collapse; width: 100%; }
td, th { padding: .35em .5em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
.badge { display: inline-block; padding: 0 .45em; border-radius: .6em; color: #fff; font-size: .8em; }
.badge { white-space: nowrap; }
.item { margin: .6em 0; } blockquote { margin: .3em 0 .3em 1em; color: #3e4c59; font-style: italic; }
.time { color: #7b8794; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #7b8794; font-size: .85em; } .legend .badge { margin-right: .4em; }
tr, .item { break-inside: avoid; } @page { margin: 1.5cm; }
@media print { body { margin: 0; max-width: none; } }
"""


def clock(seconds: float | None) -> str:
    """Seconds as m:ss (or h:mm:ss), '' when unknown."""
    if seconds is None:
        return ""
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def format_range(key: str, interval: tuple[float, float] | None) -> str:
    """A metric's likely range as people read it, e.g. 'likely 1.0–1.9'; '' when it has none."""
    return METRIC[key].show_range(interval)


def quality_lines(quality: QualityEstimate) -> list[str]:
    """The MI-quality indicator and its evidence in words, for instructors (never a grade)."""
    lines = [f"{quality.indicator} ({quality.probability_high:.0%} like AnnoMI's high-quality sessions)"]
    for e in quality.evidence:
        lines.append(
            f"{e.label}: {e.value:.2f} (typical high-quality {e.typical_high:.2f}, low-quality {e.typical_low:.2f})"
            f", pointing {e.toward}"
        )
    return lines


def is_low_confidence(coded: CodedUtterance) -> bool:
    """Whether the coder gave this code with less than LOW_CONFIDENCE."""
    return coded.code is not None and coded.confidence is not None and coded.confidence < LOW_CONFIDENCE


def _badge(text: str, colour: str) -> str:
    return f'<span class="badge" style="background:{COLOUR_HEX[colour]}">{html_text(text)}</span>'


def _metric_rows(reviewed: Reviewed) -> str:
    m = reviewed.session.metrics
    rows = []
    for metric in METRICS:
        value, interval = getattr(m, metric.key), m.interval(metric.key)
        fair, good = (metric.show(metric.fair), metric.show(metric.good)) if metric.miti else ("", "")
        likely = f'<div class="note">{format_range(metric.key, interval)}</div>' if interval else ""
        verdict = level_note(metric.key, interval) or metric.verdict(value)
        rows.append(
            f"<tr><td>{metric.label}</td><td><b>{metric.show(value)}</b>{likely}</td><td>{fair}</td><td>{good}</td>"
            f"<td>{_badge(verdict, LEVEL_COLOURS[metric.judge(value)])}</td></tr>"
        )
    return "<table><tr><th>Metric</th><th>You</th><th>Fair</th><th>Good</th><th></th></tr>" + "".join(rows) + "</table>"


def _item(item: FeedbackItem) -> str:
    quotes = "".join(f"<blockquote>“{html_text(e)}”</blockquote>" for e in item.examples)
    badge = _badge(LEVEL_LABELS.get(item.level, item.level), LEVEL_COLOURS.get(item.level, "gray"))
    return f'<div class="item">{badge} <b>{html_text(item.title)}</b><br>{html_text(item.message)}{quotes}</div>'


def _utterance_row(i: int, coded: CodedUtterance, reviewed: Reviewed) -> str:
    u = coded.utterance
    fix = reviewed.correction(i)
    machine = reviewed.automatic.utterances[i]
    if coded.code is not None:
        label = CODE_LABELS[coded.code] + (" ?" if is_low_confidence(coded) else "")
        badge = _badge(label, CODE_COLOURS[coded.code])
    else:
        badge = ""
    notes = []
    if fix and fix.changes_coding:
        notes.append(f"corrected by {html_text(fix.author)} (machine: {html_text(machine_label(machine))})")
    if fix and fix.comment:
        notes.append(f"{html_text(fix.author)}: {html_text(fix.comment)}")
    note = "".join(f'<div class="note">{n}</div>' for n in notes)
    return (
        f'<tr><td class="time">{clock(u.start)}</td><td>{ROLE_LABELS[u.speaker]}</td>'
        f"<td>{badge}</td><td>{html_text(u.text)}{note}</td></tr>"
    )


def render_report(stored: StoredSession, reviewed: Reviewed) -> str:
    """A printable, self-contained HTML report of one session as reviewed."""
    s = reviewed.session
    f = s.feedback
    meta = [
        f"Trainee: {html_text(stored.owner.name)} ({html_text(stored.owner.cohort)})",
        f"Recorded: {html_text(stored.created_at[:16].replace('T', ' '))} UTC",
        f"Length: {clock(s.duration_s)}" if s.duration_s else "",
        f"Reviewed by {html_text(stored.reviewed_by)}" if stored.reviewed_by else "Not reviewed yet",
    ]
    sections = [
        f"<h1>{html_text(stored.title)}</h1><p class='meta'>{' · '.join(m for m in meta if m)}</p>",
        f"<p><b>{html_text(f.summary)}</b></p>",
        "".join(f'<p class="note">Note: {html_text(w)}</p>' for w in s.warnings),
        "<h2>Metrics</h2>" + _metric_rows(reviewed),
    ]
    for heading, items in (("What went well", f.strengths), ("To practise next", f.practise), ("Also", f.notes)):
        if items:
            sections.append(f"<h2>{heading}</h2>" + "".join(_item(i) for i in items))
    if reviewed.comments:
        sections.append(
            "<h2>Instructor comments</h2>"
            + "".join(f"<p><b>{html_text(c.author)}</b>: {html_text(c.text)}</p>" for c in reviewed.comments)
        )
    legend = " ".join(_badge(CODE_LABELS[c], CODE_COLOURS[c]) for c in Code)
    sections.append(
        f"<h2>Transcript</h2><p class='legend'>{legend} <span class='note'>? = coder less than "
        f"{LOW_CONFIDENCE:.0%} sure</span></p><table>"
        + "".join(_utterance_row(i, c, reviewed) for i, c in enumerate(s.utterances))
        + "</table>"
    )
    body = "\n".join(x for x in sections if x)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html_text(stored.title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
