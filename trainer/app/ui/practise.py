"""Scoring: uploads queued as jobs and their progress, rescoring, and the trainee's history of sessions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from trainer.app import jobs
from trainer.app.accounts import User
from trainer.app.intake import rescore
from trainer.app.session_report import clock
from trainer.app.store import Store
from trainer.app.ui.charts import history_chart
from trainer.app.ui.common import (
    LEVEL_HEADINGS,
    TABLE_LABELS,
    Item,
    open_session,
    session_label,
    session_table,
    shown_table,
    table_columns,
)
from trainer.errors import TrainerError, one_line
from trainer.pipeline import Hook
from trainer.safe_text import markdown_text
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

# What the pipeline is doing while a step runs (the job records the last finished one).
RUNNING_TEXT = {
    "audio": "Reading the recording",
    "transcript": "Reading the transcript",
    "transcribe": "Transcribing speech",
    "speakers": "Telling the speakers apart",
    "utterances": "Finding the turns",
    "coding": "Coding the utterances",
    "metrics": "Computing the metrics",
    "feedback": "Writing the feedback",
}
PROGRESS_WINDOW = 5  # sessions a progress sentence looks back over
JOBS_SHOWN = 5  # the latest jobs listed on the Practise page
REFRESH_S = 1.0  # how often the job list redraws while something is queued or running

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
        st.error(markdown_text(one_line(e)), icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - the app's edge: a bug must not show a stack trace to a trainee
        log.exception("scoring failed")
        reason = markdown_text(one_line(e))
        st.error(f"Scoring failed unexpectedly ({reason}); nothing was saved.", icon=":material/error:")
    finally:
        bar.empty()
    return None


def submit_upload(store: Store, user: User, name: str, data: bytes, limit_mb: int) -> None:
    """Queue an upload (it is on disk once this returns), or open the session the same bytes made before."""
    try:
        submitted = jobs.submit(store, user, name, data, limit_mb=limit_mb)
    except TrainerError as e:
        st.error(markdown_text(one_line(e)), icon=":material/error:")
        return
    if submitted.session is not None:
        before = markdown_text(session_label(submitted.session))
        st.toast(f"You scored this recording before ({before}); here it is again.")
        open_session(submitted.session.id)
        st.rerun()
    st.session_state.waiting_job = submitted.job.id
    jobs.worker_for(store).wake.set()
    st.toast(f"{markdown_text(name)} is saved and queued for scoring. You can leave this page and come back.")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _render_job(store: Store, job: jobs.Job) -> None:
    """One job's line: its place in the queue, the running step with times, its result or error."""
    if job.state == "queued":
        place = jobs.place_in_queue(store, job)
        ahead = "next to be scored" if place == 1 else f"{_ordinal(place)} in the queue, {place - 1} ahead of it"
        st.progress(0.0, text=f"**{markdown_text(job.title)}**: waiting, {ahead}")
    elif job.state == "running":
        elapsed = time.time() - (job.started_at or time.time())
        estimate = jobs.estimate_s(store, job)
        step = job.running_step or job.steps[-1]
        text = f"**{markdown_text(job.title)}**: {RUNNING_TEXT[step]} (step {job.steps_done + 1} of {len(job.steps)})"
        text += f" · {clock(elapsed)} elapsed"
        if estimate is None:
            done = job.steps_done / len(job.steps)
        else:
            done = min(elapsed / estimate, 0.99) if estimate else 0.99
            text += f" · about {clock(max(estimate - elapsed, 0))} left" if elapsed < estimate else " · nearly done"
        st.progress(done, text=text)
    elif job.state == "failed":
        st.error(markdown_text(job.error or f"{job.title}: scoring failed"), icon=":material/error:")
    else:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f":material/check_circle: **{markdown_text(job.title)}** is scored.")
            if job.session_id is not None and st.button("Open", key=f"job-open-{job.id}", type="tertiary"):
                open_session(job.session_id)
                st.rerun()


def render_jobs(store: Store, user: User) -> None:
    """The user's latest scoring jobs, redrawn every second while one is waiting or running."""
    latest = jobs.jobs_of(store, user, JOBS_SHOWN)
    if not latest:
        return
    pending = any(j.state in ("queued", "running") for j in latest)

    def draw() -> None:
        current = jobs.jobs_of(store, user, JOBS_SHOWN)
        waiting = next((j for j in current if j.id == st.session_state.waiting_job), None)
        if waiting is not None and waiting.state == "done" and waiting.session_id is not None:
            st.session_state.waiting_job = None
            open_session(waiting.session_id)
            st.rerun(scope="app")
        if pending != any(j.state in ("queued", "running") for j in current):
            st.rerun(scope="app")  # start or stop redrawing
        st.subheader("Your scoring")
        for job in current:
            _render_job(store, job)

    st.fragment(draw, run_every=REFRESH_S if pending else None)()


def render_rescoring(store: Store, user: User, session_id: int) -> None:
    """Score a stored recording again with the current models; corrections stay."""
    if _scoring(lambda hook: rescore(store, user, session_id, hook=hook)) is not None:
        st.rerun()


def progress_sentence(key: str, values: Sequence[float]) -> str:
    """What changed in one metric over the last few sessions, and where it stands now, in one sentence."""
    recent = values[-PROGRESS_WINDOW:]
    metric, label, now = METRIC[key], TABLE_LABELS[key], recent[-1]
    if metric.miti:
        judged = metric.judge(now).value
        where = f"now at {LEVEL_HEADINGS.get(judged, judged)} level"
    else:
        side = "within" if now <= metric.guide else "above"
        where = f"now {side} the {metric.guide:.0%} guide"
    if len(recent) == 1:
        return f"{label}: {metric.show(now)} in your first session, {where}."
    change = f"{metric.show(recent[0])} → {metric.show(now)}"
    return f"{label}: {change} over your last {len(recent)} sessions, {where}."


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
    st.caption(
        "One point per session, oldest on the left. Shading: MITI below fair (red), fair (orange) and good "
        "(green); for talk time, the 50% guide."
    )
    points = [
        {"date": stored.created_at, "title": stored.title, **{k: getattr(r.session.metrics, k) for k in METRIC_KEYS}}
        for stored, r in items
    ]
    for row in (METRIC_KEYS[:2], METRIC_KEYS[2:]):
        for column, key in zip(st.columns(2), row):
            shown = [p for p in points if p[key] is not None]
            if shown:
                column.markdown(progress_sentence(key, [p[key] for p in shown]))
                column.altair_chart(history_chart(shown, key), width="stretch")
            else:
                column.caption(f"{METRIC[key].label}: no value yet.")
