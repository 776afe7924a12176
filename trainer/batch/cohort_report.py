"""Cohort report of a scored folder: one HTML page for people, one CSV for spreadsheets.

Reads the folder `trainer score` wrote (summary.csv and each session's JSON) and
writes `report.html`, a single self-contained page (no scripts, no network) with
each metric's distribution against the MITI thresholds and a table of sessions
linking to their results, and `report.csv`, the same table with levels spelled out.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.app.session_report import COLOUR_HEX, LEVEL_COLOURS, clock, format_range
from trainer.batch.output import SPEAKER_COLUMNS, TALK_RANGE_COLUMNS, atomic_write_text
from trainer.errors import TrainerError
from trainer.safe_text import csv_text, csv_uncell, html_href, html_text
from trainer.scoring.feedback import level_note
from trainer.scoring.intervals import INTERVAL_KEYS
from trainer.speakers.roles import worth_checking
from trainer.vocabulary import METRIC, METRIC_KEYS, Level

SUMMARY_NAME = "summary.csv"
HTML_NAME = "report.html"
CSV_NAME = "report.csv"
CSV_COLUMNS = (
    "file",
    "status",
    "error",
    "warnings",
    "duration_s",
    "n_counsellor_utterances",
    *(c for key in METRIC_KEYS for c in (key, f"{key}_level")),
    "feedback",
    "json",
    # Appended later: each coded metric's likely range, and the MI-quality indicator for instructors.
    *(f"{key}_{end}" for key in INTERVAL_KEYS for end in ("low", "high")),
    "mi_quality",
    "mi_quality_probability_high",
    *TALK_RANGE_COLUMNS,
    *SPEAKER_COLUMNS,
)
RATIO_AXIS_MAX = 4.0  # reflections per question are drawn up to this; higher values pile in the last bin
BINS = 10
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2933; margin: 2em auto; max-width: 1100px; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.5em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } .meta, .note { color: #52606d; }
td, th { padding: .3em .45em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.dists { display: flex; flex-wrap: wrap; gap: 1.2em; } figure { margin: 0; } figcaption { font-weight: 600; }
.lv { display: inline-block; width: .7em; height: .7em; border-radius: 50%; margin-left: .3em; }
"""


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    html: Path
    csv: Path


def _number(value: str) -> float | None:
    """A finite number from a cell; None for blanks and for text, nan or inf (a damaged row)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _from_json(folder: Path, row: Mapping[str, str]) -> dict[str, Any]:
    """The session's feedback summary and MI-quality indicator from its JSON; blanks if it cannot be read."""
    try:
        document = json.loads((folder / Path(row["json"]).name).read_text(encoding="utf-8"))
        quality = document.get("mi_quality") or {}
        summary = document["feedback"]["summary"]
        return {
            "feedback": summary if isinstance(summary, str) else "",
            "mi_quality": quality.get("indicator", ""),
            "mi_quality_probability_high": quality.get("probability_high", ""),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {"feedback": ""}


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """Rows of a scored folder's summary.csv, with each metric's level and feedback summary.

    Raises:
        TrainerError: the folder has no summary.csv (it was not scored yet).
    """
    try:
        text = (folder / SUMMARY_NAME).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise TrainerError(f"{folder}: no {SUMMARY_NAME}; score the folder first (trainer score ... --out DIR)") from e
    except UnicodeDecodeError as e:
        raise TrainerError(f"{folder / SUMMARY_NAME}: not UTF-8 text") from e
    except OSError as e:
        raise TrainerError(f"{folder / SUMMARY_NAME}: cannot be read ({(e.strerror or 'unreadable').lower()})") from e
    try:
        table = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as e:
        raise TrainerError(f"{folder / SUMMARY_NAME}: not a readable CSV file ({e})") from e
    rows = []
    for cells in table:
        # Short rows give None, long ones a list under None: a hand-edited or damaged file.
        raw = {k: csv_uncell(v) for k, v in cells.items() if isinstance(k, str) and isinstance(v, str)}
        row: dict[str, Any] = {k: raw.get(k, "") for k in CSV_COLUMNS}
        ok = raw.get("status") == "ok"
        for key in METRIC_KEYS:
            row[f"{key}_level"] = METRIC[key].judge(_number(raw.get(key))) if ok else ""
        if ok and raw.get("json"):
            row.update(_from_json(folder, raw))
        rows.append(row)
    return rows


def _histogram(key: str, values: Sequence[float]) -> str:
    """An inline SVG histogram of one metric, with its fair and good thresholds marked."""
    metric = METRIC[key]
    top = 1.0 if metric.percent else RATIO_AXIS_MAX
    counts = [0] * BINS
    for v in values:
        counts[min(BINS - 1, int(min(max(v, 0.0), top) / top * BINS))] += 1
    width, height, base = 260, 110, 90
    most = max(counts) or 1
    bars = []
    for i, n in enumerate(counts):
        h = 70 * n / most
        centre = (i + 0.5) * top / BINS
        colour = COLOUR_HEX[LEVEL_COLOURS[metric.judge(centre)]]
        x = 10 + i * 24
        bars.append(f'<rect x="{x}" y="{base - h:.1f}" width="22" height="{h:.1f}" fill="{colour}"/>')
        if n:
            bars.append(f'<text x="{x + 11}" y="{base - h - 3:.1f}" font-size="10" text-anchor="middle">{n}</text>')
    marks = []
    lines = ((metric.fair, "fair"), (metric.good, "good")) if metric.miti else ((metric.guide, "guide"),)
    for at, name in lines:
        x = 10 + 240 * at / top
        marks.append(
            f'<line x1="{x:.1f}" y1="12" x2="{x:.1f}" y2="{base}" stroke="#1f2933" stroke-dasharray="3 2"/>'
            f'<text x="{x + 2:.1f}" y="11" font-size="10">{name}</text>'
        )
    axis = f'<text x="10" y="{base + 14}" font-size="10">0</text>'
    axis += f'<text x="250" y="{base + 14}" font-size="10" text-anchor="end">{metric.show(top)}</text>'
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html_text(metric.label)}">'
        f'<line x1="10" y1="{base}" x2="250" y2="{base}" stroke="#9aa5b1"/>{"".join(bars)}{"".join(marks)}{axis}</svg>'
    )


def _distributions(rows: Sequence[Mapping[str, Any]]) -> str:
    figures = []
    for key in METRIC_KEYS:
        values = [v for r in rows if r["status"] == "ok" and (v := _number(r[key])) is not None]
        metric = METRIC[key]
        median = metric.show(statistics.median(values)) if values else "–"
        if metric.miti:
            at_fair = sum(v >= metric.fair for v in values)
            note = f"median {median}; {at_fair} of {len(values)} at fair or better ({metric.source})"
        else:
            note = f"median {median}; guide: at most {metric.show(metric.guide)}"
        figures.append(
            f"<figure><figcaption>{html_text(metric.label)}</figcaption>{_histogram(key, values)}"
            f'<div class="note">{html_text(note)}</div></figure>'
        )
    return '<div class="dists">' + "".join(figures) + "</div>"


def _cell(key: str, row: Mapping[str, Any]) -> str:
    value = _number(row[key])
    judged = row[f"{key}_level"] or Level.INFO
    low, high = _number(row.get(f"{key}_low", "")), _number(row.get(f"{key}_high", ""))
    interval = (low, high) if low is not None and high is not None else None
    title = level_note(key, interval) or judged
    dot = f'<span class="lv" title="{html_text(title)}" style="background:{COLOUR_HEX[LEVEL_COLOURS[judged]]}"></span>'
    likely = f'<div class="note">{format_range(key, interval)}</div>' if interval else ""
    return f'<td class="num">{METRIC[key].show(value)}{dot if value is not None else ""}{likely}</td>'


def _quality_note(row: Mapping[str, Any]) -> str:
    """The MI-quality indicator for instructors, '' where the session has none."""
    if not row.get("mi_quality"):
        return ""
    p = _number(str(row["mi_quality_probability_high"]))
    share = f" ({p:.0%} like high-quality sessions)" if p is not None else ""
    return f'<div class="note">MI quality (an estimate, not a grade): {html_text(row["mi_quality"])}{share}</div>'


def _roles_note(row: Mapping[str, Any]) -> str:
    """A warning where one microphone's roles are unsure, '' otherwise (and for older summaries)."""
    confidence = _number(str(row.get("role_confidence", "")))
    if not worth_checking(row.get("speakers_method"), confidence):
        return ""
    return (
        f'<div class="note">⚠ roles unsure ({confidence:.0%}): check which voice is the counsellor '
        "(trainer swap-roles)</div>"
    )


def _thresholds_header() -> str:
    cells = []
    for key in METRIC_KEYS:
        metric = METRIC[key]
        if metric.miti:
            guide = f"fair {metric.show(metric.fair)} · good {metric.show(metric.good)}"
        else:
            guide = f"guide ≤ {metric.show(metric.guide)}"
        cells.append(f'<th>{html_text(metric.label)}<br><span class="note">{guide}</span></th>')
    return "".join(cells)


def render_html(folder: Path, rows: Sequence[Mapping[str, Any]]) -> str:
    """The cohort page: distributions, then a table of scored sessions, then the failures."""
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    body = [
        f"<h1>Cohort report: {html_text(folder.resolve().name)}</h1>",
        f'<p class="meta">{len(ok)} session(s) scored, {len(failed)} could not be scored. '
        f'Table as CSV: <a href="{CSV_NAME}">{CSV_NAME}</a>.</p>',
        "<h2>Distributions</h2>",
        _distributions(rows),
        "<h2>Sessions</h2><table><tr><th>Session</th><th>Length</th><th>Counsellor turns</th>",
        _thresholds_header() + "<th>Feedback and warnings</th></tr>",
    ]
    for r in ok:
        name = html_text(Path(r["file"]).name)
        link = f'<a href="{html_href(Path(r["json"]).name)}">{name}</a>' if r["json"] else name
        warnings = "".join(f'<div class="note">⚠ {html_text(w)}</div>' for w in r["warnings"].split("; ") if w)
        body.append(
            f"<tr><td>{link}</td><td class='num'>{clock(_number(r['duration_s']))}</td>"
            f"<td class='num'>{html_text(r['n_counsellor_utterances'])}</td>"
            + "".join(_cell(key, r) for key in METRIC_KEYS)
            + f"<td>{html_text(r['feedback'])}{warnings}{_roles_note(r)}{_quality_note(r)}</td></tr>"
        )
    body.append("</table>")
    if failed:
        body.append("<h2>Not scored</h2><table><tr><th>File</th><th>Reason</th></tr>")
        body += [f"<tr><td>{html_text(r['file'])}</td><td>{html_text(r['error'])}</td></tr>" for r in failed]
        body.append("</table>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Cohort report: {html_text(folder.resolve().name)}</title><style>{_CSS}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(folder: Path) -> ReportFiles:
    """Write report.html and report.csv into a folder scored by `trainer score`.

    Raises:
        TrainerError: the folder has no summary.csv.
    """
    rows = read_rows(folder)
    files = ReportFiles(folder / HTML_NAME, folder / CSV_NAME)
    atomic_write_text(files.csv, csv_text(CSV_COLUMNS, rows))
    atomic_write_text(files.html, render_html(folder, rows))
    return files
