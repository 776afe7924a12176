"""Scoring: uploads queued as jobs and their progress, rescoring, and the trainee's history of sessions."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import streamlit as st

from trainer.app import jobs
from trainer.app.accounts import User
from trainer.app.review import StoredSession
from trainer.app.session_report import clock
from trainer.app.store import MAX_NAME, Store
from trainer.app.ui.charts import history_chart
from trainer.app.ui.common import (
    LEVEL_HEADINGS,
    RANGE_CAPTION,
    TABLE_LABELS,
    Item,
    open_session,
    session_label,
    session_table,
    shown_table,
    table_columns,
)
from trainer.errors import TrainerError, one_line
from trainer.safe_text import markdown_text
from trainer.scoring.feedback import level_note
from trainer.vocabulary import METRIC, METRIC_KEYS

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
    elif job.rescore_of is not None:
        st.markdown(f":material/check_circle: **{markdown_text(job.title)}** is scored again with the current models.")
    else:
        with st.container(horizontal=True, vertical_alignment="center", key=f"scored-job-{job.id}"):
            st.markdown(f":material/check_circle: **{markdown_text(job.title)}** is scored.")
            if job.session_id is not None and st.button("Open", key=f"job-open-{job.id}", type="tertiary"):
                open_session(job.session_id)
                st.rerun()


def _render_live(store: Store, fetch: Callable[[], Sequence[jobs.Job]], heading: str) -> None:
    """Jobs as `_render_job` lines, redrawn every second while one is waiting or running.

    When the job this tab submitted is done its session opens; when the last pending job
    ends the whole page redraws (a rescored session shows its new result).
    """
    pending = any(j.state in ("queued", "running") for j in fetch())

    def draw() -> None:
        current = fetch()
        waiting = next((j for j in current if j.id == st.session_state.waiting_job), None)
        if waiting is not None and waiting.state == "done" and waiting.session_id is not None:
            st.session_state.waiting_job = None
            open_session(waiting.session_id)
            st.rerun(scope="app")
        if pending != any(j.state in ("queued", "running") for j in current):
            st.rerun(scope="app")  # start or stop redrawing
        st.subheader(heading)
        for job in current:
            _render_job(store, job)

    st.fragment(draw, run_every=REFRESH_S if pending else None)()


def render_jobs(store: Store, user: User) -> None:
    """The user's latest scoring jobs."""
    if jobs.jobs_of(store, user, 1):
        _render_live(store, lambda: jobs.jobs_of(store, user, JOBS_SHOWN), "Your scoring")


def render_rescoring(store: Store, user: User, session_id: int) -> None:
    """'Score again with current models', queued like an upload; corrections stay."""
    latest = jobs.rescoring(store, session_id)
    busy = latest is not None and latest.state in ("queued", "running")
    if st.button("Score again with current models", key="rescore", icon=":material/refresh:", disabled=busy):
        try:
            latest = jobs.submit_rescore(store, user, session_id)
        except TrainerError as e:
            st.error(markdown_text(one_line(e)), icon=":material/error:")
            return
        jobs.worker_for(store).wake.set()
        st.toast("Queued for scoring again; this page shows the new result when it is done.")
    if latest is not None:
        _render_live(store, lambda: tuple(filter(None, [jobs.rescoring(store, session_id)])), "Scoring again")


def render_naming(store: Store, user: User, stored: StoredSession) -> None:
    """Rename a session and tag it with the scenario practised, so progress can be followed per scenario."""
    with st.popover("Name and scenario", icon=":material/edit:"), st.form("naming", border=False):
        title = st.text_input("Name", value=stored.title, max_chars=MAX_NAME, key="naming_title")
        scenario = st.text_input(
            "Scenario",
            value=stored.scenario,
            max_chars=MAX_NAME,
            placeholder="e.g. alcohol, ambivalent client",
            key="naming_scenario",
        )
        used = store.scenarios(user)
        if used:
            st.caption("Used before: " + " · ".join(markdown_text(s) for s in used))
        if st.form_submit_button("Save", key="naming_save", type="primary"):
            try:
                store.rename_session(user, stored.id, title, scenario)
            except TrainerError as e:
                st.error(markdown_text(one_line(e)), icon=":material/error:")
            else:
                st.rerun()


def progress_sentence(key: str, values: Sequence[float], latest: tuple[float, float] | None = None) -> str:
    """What changed in one metric over the last few sessions, and where it stands now, in one sentence.

    `latest`: the likely range of the last session's value; where it straddles a threshold, the
    sentence names the level as uncertain, as the session's own page does.
    """
    recent = values[-PROGRESS_WINDOW:]
    metric, label, now = METRIC[key], TABLE_LABELS[key], recent[-1]
    if note := level_note(key, latest):
        where = f"now {note}"
    elif metric.miti:
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
    scenarios = sorted({stored.scenario for stored, _ in items if stored.scenario}, key=str.lower)
    if scenarios:
        chosen = st.multiselect("Scenario", scenarios, key="history_scenarios", placeholder="all scenarios")
        if chosen:
            items = [(stored, r) for stored, r in items if stored.scenario in chosen]
    unused = ["trainee"] if scenarios else ["trainee", "scenario"]
    st.dataframe(
        shown_table(session_table(items).drop(columns=unused)),
        column_config=table_columns(),
        hide_index=True,
        placeholder="–",
    )
    st.caption(RANGE_CAPTION)
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
        "One point per session, oldest on the left, with a line through its likely range where the coder (or, "
        "for talk time, one microphone) left doubt. Shading: MITI below fair (red), fair (orange) and good "
        "(green); for talk time, the 50% guide."
    )
    points = [
        {
            "date": stored.created_at,
            "title": stored.title,
            **{k: getattr(r.session.metrics, k) for k in METRIC_KEYS},
            **{f"{k}_range": r.session.metrics.interval(k) for k in METRIC_KEYS},
        }
        for stored, r in items
    ]
    for row in (METRIC_KEYS[:2], METRIC_KEYS[2:]):
        for column, key in zip(st.columns(2), row):
            shown = [p for p in points if p[key] is not None]
            if shown:
                column.markdown(progress_sentence(key, [p[key] for p in shown], shown[-1][f"{key}_range"]))
                column.altair_chart(history_chart(shown, key), width="stretch")
            else:
                column.caption(f"{METRIC[key].label}: no value yet.")
