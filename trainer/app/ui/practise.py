"""Scoring a new recording with a progress bar, and the trainee's history of sessions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from trainer.app.accounts import User
from trainer.app.intake import rescore, score_upload
from trainer.app.store import Store
from trainer.app.ui.charts import history_chart
from trainer.app.ui.common import Item, open_session, session_label, session_table, shown_table, table_columns
from trainer.errors import TrainerError, one_line
from trainer.pipeline import Hook
from trainer.vocabulary import METRIC, METRIC_KEYS

# What the pipeline has just finished, by the step names run_session reports.
STEP_TEXT = {
    "audio": "Recording read",
    "transcript": "Transcript read",
    "transcribe": "Speech transcribed",
    "speakers": "Speakers told apart",
    "utterances": "Turns found",
    "coding": "Utterances coded",
    "metrics": "Metrics computed",
    "feedback": "Feedback written",
}

log = logging.getLogger("trainer")
T = TypeVar("T")


def _progress_hook(bar: Any) -> Hook:
    """A pipeline hook that moves a st.progress bar."""

    def hook(step: str, artifact: Any, *, completed: int, total: int) -> None:
        bar.progress(completed / total, text=f"{STEP_TEXT.get(step, step)} ({completed} of {total} steps)")

    return hook


def _scoring(action: Callable[[Hook], T]) -> T | None:
    """Run a scoring action under a progress bar; errors become one line on the page."""
    bar = st.progress(0.0, text="Reading the recording…")
    try:
        return action(_progress_hook(bar))
    except TrainerError as e:
        st.error(one_line(e), icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - the app's edge: a bug must not show a stack trace to a trainee
        log.exception("scoring failed")
        st.error(f"Scoring failed unexpectedly ({one_line(e)}); nothing was saved.", icon=":material/error:")
    finally:
        bar.empty()
    return None


def render_scoring(store: Store, user: User, name: str, data: bytes, limit_mb: int) -> None:
    """Score an upload; on success show its feedback page."""
    scored = _scoring(lambda hook: score_upload(store, user, name, data, hook=hook, limit_mb=limit_mb))
    if scored is None:
        return
    if scored.reused:
        st.toast(f"You scored this recording before ({session_label(scored.stored)}); here it is again.")
    open_session(scored.stored.id)
    st.rerun()


def render_rescoring(store: Store, user: User, session_id: int) -> None:
    """Score a stored recording again with the current models; corrections stay."""
    if _scoring(lambda hook: rescore(store, user, session_id, hook=hook)) is not None:
        st.rerun()


def render_history(items: list[Item]) -> None:
    """A trainee's past sessions, a picker to open one, and each metric over time."""
    st.title("My sessions")
    if not items:
        st.info("No sessions yet: record or upload a role play on the Practise page.")
        return
    st.dataframe(
        shown_table(session_table(items).drop(columns=["trainee"])),
        column_config=table_columns(),
        hide_index=True,
        placeholder="–",
    )
    by_id = {stored.id: stored for stored, _ in items}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        pick = st.selectbox(
            "Session", list(reversed(by_id)), format_func=lambda i: session_label(by_id[i]), key="history_pick"
        )
        if st.button("Open", key="history_open", icon=":material/open_in_new:"):
            open_session(pick)
            st.rerun()
    st.subheader("Progress")
    st.caption("Dashed lines: MITI fair (orange) and good (green) levels; for talk time, the 50% guide.")
    points = [
        {"date": stored.created_at, "title": stored.title, **{k: getattr(r.session.metrics, k) for k in METRIC_KEYS}}
        for stored, r in items
    ]
    for row in (METRIC_KEYS[:2], METRIC_KEYS[2:]):
        for column, key in zip(st.columns(2), row):
            shown = [p for p in points if p[key] is not None]
            if shown:
                column.altair_chart(history_chart(shown, key), width="stretch")
            else:
                column.caption(f"{METRIC[key].label}: no value yet.")
