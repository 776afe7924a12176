"""Altair charts of a session and of progress over time (plain functions, no Streamlit calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from trainer.app.session_report import CLIENT_COLOUR, CODE_COLOURS, COLOUR_HEX
from trainer.schema import Code, Role, Session
from trainer.scoring.metrics import talk_time
from trainer.vocabulary import CODE_LABELS, METRIC, ROLE_LABELS

CLIENT_LABEL = "Client"
UNCODED_LABEL = "Counsellor (no code)"


def _label(speaker: Role, code: Code | None) -> str:
    if speaker is Role.CLIENT:
        return CLIENT_LABEL
    return CODE_LABELS[code] if code else UNCODED_LABEL


def _colour_scale(used: set[str]) -> alt.Scale:
    """Code colours for the labels a chart shows: a legend entry for a code never used would only puzzle."""
    labels = [*CODE_LABELS.values(), CLIENT_LABEL, UNCODED_LABEL]
    colours = [COLOUR_HEX[CODE_COLOURS[c]] for c in CODE_LABELS] + [COLOUR_HEX[CLIENT_COLOUR], "#c0c4cc"]
    kept = [(label, colour) for label, colour in zip(labels, colours) if label in used]
    return alt.Scale(domain=[label for label, _ in kept], range=[colour for _, colour in kept])


def talk_time_chart(session: Session) -> alt.Chart:
    """Bar per role: its share of the talk, on a percent axis; the seconds (or words) are in the tooltip.

    Where one microphone leaves the share uncertain, each bar carries its likely range as a
    whisker (the client's is the counsellor's turned round), as the metric card does.
    """
    amount, basis = talk_time(session.utterances)
    total = sum(amount.values()) or 1.0
    unit = "seconds" if basis == "seconds" else "words"
    data = pd.DataFrame(
        {
            "role": [ROLE_LABELS[r] for r in amount],
            "share": [v / total for v in amount.values()],
            unit: [round(v, 1) for v in amount.values()],
        }
    )
    interval = session.metrics.interval("counsellor_talk_share")
    if interval is not None:
        low, high = interval
        ranges = {Role.COUNSELLOR: (low, high), Role.CLIENT: (1 - high, 1 - low)}
        data["low"] = [ranges[r][0] for r in amount]
        data["high"] = [ranges[r][1] for r in amount]
        data["likely"] = [METRIC["counsellor_talk_share"].show_span(ranges[r]) for r in amount]
    role_axis = alt.Y("role:N", title=None, sort=list(ROLE_LABELS.values()))
    colours = alt.Scale(domain=list(ROLE_LABELS.values()), range=[COLOUR_HEX["blue"], COLOUR_HEX[CLIENT_COLOUR]])
    title = f"Share of the {'speaking time' if unit == 'seconds' else 'words'}"  # one title for every layer's x
    tooltip = ["role", alt.Tooltip("share:Q", format=".0%"), alt.Tooltip(f"{unit}:Q")]
    if interval is not None:
        tooltip.append(alt.Tooltip("likely:N", title="likely"))
    bars = (
        alt.Chart(data)
        .mark_bar(cornerRadiusEnd=4)
        .encode(
            x=alt.X(
                "share:Q",
                title=title,
                scale=alt.Scale(domain=[0, 1.12]),  # room for the label of a bar at 100%
                axis=alt.Axis(format=".0%", values=[0, 0.25, 0.5, 0.75, 1]),
            ),
            y=role_axis,
            color=alt.Color("role:N", scale=colours, legend=None),
            tooltip=tooltip,
        )
    )
    # Labels in the theme's text colour (not the bars'), readable on light and dark backgrounds,
    # placed past the whisker where there is one.
    labels = (
        alt.Chart(data)
        .mark_text(align="left", dx=4)
        .encode(
            x=alt.X("high:Q" if interval is not None else "share:Q", title=title),
            y=role_axis,
            text=alt.Text("share:Q", format=".0%"),
        )
    )
    if interval is None:
        return (bars + labels).properties(height=120)
    whiskers = (
        alt.Chart(data)
        .mark_errorbar(ticks=True)
        .encode(x=alt.X("low:Q", title=title), x2="high:Q", y=role_axis, tooltip=tooltip)
    )
    return (bars + whiskers + labels).properties(height=120)


def timeline_chart(session: Session) -> alt.Chart | None:
    """Who spoke when: one bar per utterance, counsellor bars coloured by code; None without times."""
    rows = [
        {
            "who": ROLE_LABELS[c.speaker],
            "start": c.utterance.start,
            "end": c.utterance.end,
            "label": _label(c.speaker, c.code),
            "text": c.text[:80],
        }
        for c in session.utterances
        if c.utterance.start is not None and c.utterance.end is not None
    ]
    if not rows:
        return None
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X("start:Q", title="Time (s)"),
            x2="end:Q",
            y=alt.Y("who:N", title=None, sort=list(ROLE_LABELS.values()), scale=alt.Scale(paddingInner=0.3)),
            color=alt.Color("label:N", scale=_colour_scale({r["label"] for r in rows}), title=None),
            tooltip=["who", "label", "start", "end", "text"],
        )
        .properties(height=150)
    )


# Shading of the MITI levels behind a progress chart (below fair, fair, good), light enough for any theme.
BAND_OPACITY = 0.12


def _bands(key: str, top: float) -> pd.DataFrame:
    """The level bands of a metric from 0 to `top`: MITI levels, or the talk-time guide."""
    metric = METRIC[key]
    if not metric.miti:
        rows = [("within the guide", 0.0, metric.guide, "green"), ("above the guide", metric.guide, top, "red")]
    else:
        rows = [
            ("below fair", 0.0, metric.fair, "red"),
            ("fair", metric.fair, metric.good, "orange"),
            ("good", metric.good, top, "green"),
        ]
    return pd.DataFrame(
        [{"level": name, "low": low, "high": high, "colour": COLOUR_HEX[colour]} for name, low, high, colour in rows]
    )


def history_chart(points: Sequence[Mapping[str, object]], key: str) -> alt.Chart:
    """One metric over sessions: one point per session (x: the sessions in order, labelled by date),
    a line through its likely range where it has one (`<key>_range`: (low, high) or None), on
    shaded MITI bands."""
    data = pd.DataFrame(points)
    data["session"] = [f"{pd.Timestamp(d):%b %d} #{i + 1}" for i, d in enumerate(data["date"])]
    ranges = list(data.get(f"{key}_range", pd.Series([None] * len(data))))
    data["low"] = [r[0] if r else None for r in ranges]
    data["high"] = [r[1] if r else None for r in ranges]
    metric = METRIC[key]
    axis_format = ".0%" if metric.percent else ".1f"
    top = 1.0 if metric.percent else max([*data[key], metric.good * 1.25])  # a range above the top is cut
    order = list(data["session"])
    bands = (
        alt.Chart(_bands(key, top))
        .mark_rect(opacity=BAND_OPACITY)
        .encode(
            y=alt.Y("low:Q", scale=alt.Scale(domain=[0, top], nice=False)),
            y2="high:Q",
            color=alt.Color("colour:N", scale=None),
            tooltip=[alt.Tooltip("level:N", title="level")],
        )
    )
    line = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=60), color=COLOUR_HEX["blue"])
        .encode(
            x=alt.X("session:O", title=None, sort=order, axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y(f"{key}:Q", title=None, axis=alt.Axis(format=axis_format), scale=alt.Scale(domain=[0, top])),
            tooltip=[alt.Tooltip("session:N"), alt.Tooltip("title:N"), alt.Tooltip(f"{key}:Q", format=axis_format)],
        )
    )
    ranged = data.dropna(subset=["low", "high"])
    whiskers = (
        alt.Chart(ranged)
        .mark_rule(color=COLOUR_HEX["blue"], opacity=0.5, strokeWidth=2, clip=True)
        .encode(
            x=alt.X("session:O", sort=order),
            y=alt.Y("low:Q", scale=alt.Scale(domain=[0, top])),
            y2="high:Q",
            tooltip=[
                alt.Tooltip("session:N"),
                alt.Tooltip("low:Q", title="likely from", format=axis_format),
                alt.Tooltip("high:Q", title="likely to", format=axis_format),
            ],
        )
    )
    return alt.layer(bands, whiskers, line).properties(title=metric.label, height=180)
