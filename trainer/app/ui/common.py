"""Session state, the session table and small text helpers shared by the pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from trainer.app.accounts import User
from trainer.app.review import Reviewed, StoredSession, review
from trainer.app.session_report import clock
from trainer.app.store import Store
from trainer.vocabulary import METRIC, METRIC_KEYS

# Everything the app keeps between reruns, with its value for a fresh browser tab.
STATE_DEFAULTS: dict[str, Any] = {
    "user": None,  # the signed-in accounts.User
    "token": None,  # their sign-in token (trainer.signin), revoked when they sign out
    "source_choice": "Record here",  # record in the browser or upload, remembered across pages
    "waiting_job": None,  # the scoring job this tab submitted: its session opens when it is done
    "open_session": None,  # id of the session shown, if any
    "closed_session": None,  # id of the session just closed: a click racing the URL update may still carry it
    "play_from": 0.0,  # where the player starts (seconds), set by an utterance's play button
    "autoplay": False,  # start playing at once (after a play button, not on first view)
    "editor_rev": 0,  # bumped after saving corrections, so the review table starts afresh
}
# How a level reads in the app, where not by its own name ("practise" is the feedback's word for a point).
LEVEL_HEADINGS = {"practise": "below fair"}
# Metric cells of session tables, shaded by MITI level; dark text stays readable in dark mode too.
LEVEL_CELL_CSS = {
    "good": "background-color: #cdebd6; color: #14361f",
    "fair": "background-color: #fbe3c6; color: #4a2a05",
    "practise": "background-color: #f6d0d0; color: #4d1111",
}
# In tables that list sessions the talk-time column may be a trainee's, not the reader's.
TABLE_LABELS = {**{key: m.label for key, m in METRIC.items()}, "counsellor_talk_share": "Counsellor talk time"}

Item = tuple[StoredSession, Reviewed]


def init_state() -> None:
    """Give every state key its default, once per browser tab."""
    for key, value in STATE_DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value


def open_session(session_id: int) -> None:
    """Show a session (also in the URL, so a reload stays on it; the store still checks access)."""
    st.session_state.open_session = session_id
    st.session_state.closed_session = None
    st.session_state.play_from = 0.0
    st.session_state.autoplay = False
    st.query_params["session"] = str(session_id)


def close_session() -> None:
    """Back to the page list."""
    if st.session_state.open_session is not None:
        st.session_state.closed_session = st.session_state.open_session
    st.session_state.open_session = None
    st.query_params.pop("session", None)


def reviewed_sessions(store: Store, user: User) -> list[Item]:
    """Every session the user may see, with corrections applied, oldest first."""
    return [(s, review(s.document, s.corrections, s.comments, s.reviewed_by is not None)) for s in store.sessions(user)]


def session_label(stored: StoredSession, with_owner: bool = False) -> str:
    """How a session is named in pickers: date, title, and the trainee for instructors."""
    owner = f"{stored.owner.name} · " if with_owner else ""
    scenario = f" ({stored.scenario})" if stored.scenario else ""
    return f"{owner}{stored.created_at[:16].replace('T', ' ')} · {stored.title}{scenario}"


RANGE_ENDS = ("low", "high")  # hidden columns of a session table: each metric's likely range, where it has one
RANGE_CAPTION = "In brackets: the likely range, where the coder (or, for talk time, one microphone) leaves doubt."


def session_table(items: Sequence[Item]) -> pd.DataFrame:
    """One row per session with its metrics as corrected (and their likely ranges), newest first."""
    rows = []
    for stored, reviewed in items:
        metrics = reviewed.session.metrics
        ranges = {key: metrics.interval(key) or (None, None) for key in METRIC_KEYS}
        rows.append(
            {
                "id": stored.id,
                "date": pd.Timestamp(stored.created_at).tz_convert(None),
                "trainee": stored.owner.name,
                "session": stored.title,
                "scenario": stored.scenario,
                "length": clock(reviewed.session.duration_s),
                **{key: getattr(metrics, key) for key in METRIC_KEYS},
                "reviewed": stored.reviewed_by is not None,
                **{f"{key}_{end}": ranges[key][i] for key in METRIC_KEYS for i, end in enumerate(RANGE_ENDS)},
            }
        )
    ranges = [f"{key}_{end}" for key in METRIC_KEYS for end in RANGE_ENDS]
    columns = ["id", "date", "trainee", "session", "scenario", "length", *METRIC_KEYS, "reviewed", *ranges]
    return pd.DataFrame(rows, columns=columns).sort_values(["date", "id"], ascending=False, ignore_index=True)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def metric_cell(key: str, value: float | None, low: float | None, high: float | None) -> str:
    """A metric as a table shows it: '1.4 (1.0–1.9)' with its likely range, '62%' without, '–' without a value."""
    metric = METRIC[key]
    value, low, high = _number(value), _number(low), _number(high)
    if value is None:
        return "–"
    if low is None or high is None:
        return metric.show(value)
    return f"{metric.show(value)} ({metric.show_span((low, high))})"


def shown_table(table: pd.DataFrame) -> Any:
    """`session_table` as displayed: each metric cell shaded by its MITI level and written with its range.

    The cells keep their numbers (so a column still sorts by value); only what is shown is text.
    """
    css = pd.DataFrame("", index=table.index, columns=table.columns)
    texts = pd.DataFrame("", index=table.index, columns=[key for key in METRIC_KEYS if key in table])
    for key in texts.columns:
        values = [_number(v) for v in table[key]]
        css[key] = [LEVEL_CELL_CSS.get(METRIC[key].judge(v).value, "") for v in values]
        lows, highs = (table.get(f"{key}_{end}", [None] * len(table)) for end in RANGE_ENDS)
        texts[key] = [metric_cell(key, v, lo, hi) for v, lo, hi in zip(values, lows, highs)]
    styler = table.style.apply(lambda _: css, axis=None)
    # One format call per row, over a label slice: one per cell over a list of labels took 2.1 CPU s
    # for 500 sessions on every run of the page, this 0.6 s. Each cell shows its own text.
    for row, cells in texts.iterrows():
        shown = {key: (lambda _, text=text: text) for key, text in cells.items()}
        styler = styler.format(shown, subset=pd.IndexSlice[row:row, list(texts.columns)])
    return styler


def table_columns() -> dict[str, Any]:
    """Column labels and number formats for `shown_table` in st.dataframe."""
    config: dict[str, Any] = {
        "id": None,
        "date": st.column_config.DatetimeColumn("Date", format="YYYY-MM-DD HH:mm"),
        "last session": st.column_config.DatetimeColumn("Last session", format="YYYY-MM-DD"),
        "trainee": "Trainee",
        "sessions": "Sessions",
        "session": "Session",
        "scenario": "Scenario",
        "length": "Length",
        "reviewed": st.column_config.CheckboxColumn("Reviewed"),
    }
    for key in METRIC_KEYS:
        # No number format: the table's own text (value and likely range, from shown_table) is shown.
        config[key] = st.column_config.NumberColumn(TABLE_LABELS[key])
        config.update({f"{key}_{end}": None for end in RANGE_ENDS})  # hidden: read into the metric's cell
    return config
