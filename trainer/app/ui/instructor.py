"""Instructor pages: the cohort's sessions, correcting one session, and agreement with the machine."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from trainer.app.accounts import User, UserRole
from trainer.app.review import (
    Agreement,
    Edit,
    Reviewed,
    StoredSession,
    agreement,
    code_pairs,
    corrections_from_edits,
)
from trainer.app.session_report import clock, quality_lines
from trainer.app.store import Store
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
from trainer.errors import ReviewError
from trainer.safe_text import markdown_text
from trainer.schema import Code, CodedUtterance, Role
from trainer.scoring.change_talk import sure_subcode
from trainer.vocabulary import CODE_LABELS, METRIC, METRIC_KEYS, ROLE_LABELS, SUBCODE_LABELS, SUBCODES, Level

LEVELS = (Level.PRACTISE.value, Level.FAIR.value, Level.GOOD.value, "n/a")  # what Metric.verdict says
NEWEST = "newest first"


def filter_table(
    table: pd.DataFrame,
    trainees: Sequence[str],
    metric: str,
    levels: Sequence[str],
    unreviewed: bool,
    scenarios: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows of the chosen trainees and scenarios whose `metric` is at one of `levels` (all when none chosen)."""
    keep = pd.Series(True, index=table.index)
    if trainees:
        keep &= table["trainee"].isin(trainees)
    if scenarios:
        keep &= table["scenario"].isin(scenarios)
    if levels:
        keep &= table[metric].map(lambda v: METRIC[metric].verdict(None if pd.isna(v) else v)).isin(levels)
    if unreviewed:
        keep &= ~table["reviewed"]
    return table[keep]


def render_cohort(store: Store, user: User, items: list[Item]) -> None:
    """Trainees of the cohort, and their sessions, filterable and sortable by metric."""
    st.title(f"Cohort {user.cohort}")
    table = session_table(items)
    trainees = [u.name for u in store.users(user) if u.role is UserRole.TRAINEE]
    summary = pd.DataFrame(
        {
            "trainee": trainees,
            "sessions": [int((table["trainee"] == t).sum()) for t in trainees],
            "last session": [table.loc[table["trainee"] == t, "date"].max() for t in trainees],
            **{key: [table.loc[table["trainee"] == t, key].mean() for t in trainees] for key in METRIC_KEYS},
        }
    )
    st.subheader("Trainees")
    st.caption("Metrics are averages over each trainee's sessions, after your corrections.")
    st.dataframe(shown_table(summary), column_config=table_columns(), hide_index=True, placeholder="–")

    st.subheader("Sessions")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        chosen = st.multiselect("Trainees", trainees, key="filter_trainees", placeholder="all")
        scenarios = sorted({s for s in table["scenario"] if s}, key=str.lower)
        practised = (
            st.multiselect("Scenario", scenarios, key="filter_scenarios", placeholder="all") if scenarios else []
        )
        metric = st.selectbox("Metric", METRIC_KEYS, format_func=TABLE_LABELS.get, key="filter_metric", width=240)
        levels = st.multiselect(
            "Level", LEVELS, format_func=lambda v: LEVEL_HEADINGS.get(v, v), key="filter_levels", placeholder="any"
        )
        order = st.selectbox("Sort", [NEWEST, "lowest first", "highest first"], key="sort_by")
        unreviewed = st.checkbox("Not reviewed yet", key="filter_unreviewed")
    shown = filter_table(table, chosen, metric, levels, unreviewed, practised)
    if order != NEWEST:
        shown = shown.sort_values(metric, ascending=order == "lowest first", na_position="last")
    st.dataframe(shown_table(shown), column_config=table_columns(), hide_index=True, placeholder="–")
    st.caption(RANGE_CAPTION)
    if shown.empty:
        st.caption("No session matches.")
        return
    by_id = {stored.id: stored for stored, _ in items}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        pick = st.selectbox(
            "Session",
            list(shown["id"]),
            format_func=lambda i: session_label(by_id[i], with_owner=True),
            key="cohort_pick",
        )
        if st.button("Open", key="cohort_open", icon=":material/open_in_new:"):
            open_session(int(pick))
            st.rerun()


def _machine_said(machine: CodedUtterance) -> str:
    """The machine's code (or speaker) and finer label, '?' marking a label too unsure to count."""
    said = CODE_LABELS[machine.code] if machine.code else ROLE_LABELS[machine.speaker]
    if machine.subcode is None:
        return said
    return f"{said} · {machine.subcode}" + ("" if sure_subcode(machine) else "?")


def _editor_frame(reviewed: Reviewed) -> pd.DataFrame:
    rows = []
    for i, (machine, final) in enumerate(zip(reviewed.automatic.utterances, reviewed.session.utterances)):
        fix = reviewed.correction(i)
        rows.append(
            {
                "index": i,
                "time": clock(final.utterance.start),
                "speaker": final.speaker.value,
                "code": final.code.value if final.code else None,
                "subcode": sure_subcode(final),  # what feedback counts: an unsure label shows as none
                "machine": _machine_said(machine),
                "sure": machine.confidence,
                "text": final.text,
                "comment": fix.comment if fix else "",
            }
        )
    return pd.DataFrame(rows)


def _text(value: object) -> str:
    """A cell of the review table as text ('' for empty cells, which pandas gives as NaN or None)."""
    return value if isinstance(value, str) else ""


def _edits(edited: pd.DataFrame) -> dict[int, Edit]:
    return {
        int(row["index"]): Edit(
            Role(row["speaker"]),
            Code(row["code"]) if _text(row["code"]) else None,
            _text(row["comment"]),
            _text(row["subcode"]) or None,
        )
        for row in edited.to_dict("records")
    }


def render_agreement_table(result: Agreement) -> None:
    """Per code: how often the machine's code stood, and how many of the instructor's it found."""
    cols = st.columns(3)
    cols[0].metric("Codes agreed", "–" if result.share is None else f"{result.share:.0%}", border=True)
    cols[1].metric("Cohen's kappa", "–" if result.kappa is None else f"{result.kappa:.2f}", border=True)
    cols[2].metric("Counsellor utterances", result.compared, border=True)
    frame = pd.DataFrame(
        {
            "code": [CODE_LABELS[c.code] for c in result.per_code],
            "machine": [c.automatic for c in result.per_code],
            "instructor": [c.instructor for c in result.per_code],
            "agreed": [c.agreed for c in result.per_code],
            "kept": [None if c.kept_share is None else c.kept_share * 100 for c in result.per_code],
            "found": [None if c.found_share is None else c.found_share * 100 for c in result.per_code],
        }
    )
    percent = {"format": "%.0f%%"}  # whole percents, as on the cards above
    st.dataframe(
        frame,
        hide_index=True,
        placeholder="–",
        column_config={
            "code": "Code",
            "machine": "Machine",
            "instructor": "Instructor",
            "agreed": "Both",
            "kept": st.column_config.NumberColumn("Machine's codes kept", **percent),
            "found": st.column_config.NumberColumn("Instructor's codes found", **percent),
        },
    )


def quick_corrector(store: Store, user: User, stored: StoredSession, reviewed: Reviewed) -> Callable[[int, Code], None]:
    """Store one utterance's code as the instructor clicked it in the transcript, keeping its comment."""

    def correct(i: int, code: Code) -> None:
        final = reviewed.session.utterances[i]
        fix = reviewed.correction(i)
        edit = Edit(final.speaker, code, fix.comment if fix else "", sure_subcode(final))
        try:
            store.set_corrections(user, stored.id, corrections_from_edits(reviewed, {i: edit}, user.name))
        except ReviewError as e:
            st.error(str(e), icon=":material/error:")
            return
        st.session_state.editor_rev += 1
        st.toast(f"Utterance {i}: {CODE_LABELS[code]}.")

    return correct


def render_review(store: Store, user: User, stored: StoredSession, reviewed: Reviewed) -> None:
    """Correct speakers, codes and subcodes, comment, mark reviewed; metrics and feedback recompute on save."""
    if reviewed.session.quality is not None:
        first, *evidence = quality_lines(reviewed.session.quality)
        st.info(
            f"**MI-quality indicator:** {first}. Evidence: " + "; ".join(evidence) + ". An estimate from the "
            "coded session to help you decide where to look, not a grade.",
            icon=":material/insights:",
        )
    st.subheader("Correct codes and speakers")
    st.caption(
        "Change a speaker, a code or a subcode, or write a comment, then save. Metrics and feedback are "
        "recomputed; the machine's codes stay beside yours and re-scoring never overwrites your corrections."
    )
    edited = st.data_editor(
        _editor_frame(reviewed),
        key=f"editor-{stored.id}-{st.session_state.editor_rev}",
        hide_index=True,
        height=460,
        placeholder="",
        column_order=["index", "time", "text", "speaker", "code", "subcode", "comment", "machine", "sure"],
        disabled=["index", "time", "machine", "sure", "text"],
        column_config={
            "index": st.column_config.NumberColumn("#", width=40),
            "time": st.column_config.TextColumn("Time", width=56),
            "text": st.column_config.TextColumn("Utterance", width="large"),
            "speaker": st.column_config.SelectboxColumn(
                "Speaker", options=[r.value for r in Role], format_func=lambda v: ROLE_LABELS[Role(v)], required=True
            ),
            "code": st.column_config.SelectboxColumn(
                "Code", options=[c.value for c in Code], format_func=lambda v: CODE_LABELS[Code(v)], width=150
            ),
            "subcode": st.column_config.SelectboxColumn(
                "Subcode",
                options=list(SUBCODES),
                format_func=SUBCODE_LABELS.get,
                width=150,
                help="Kind of 'other' (counsellor, code Other) or client talk type; feeds the advice "
                "and change-talk notes",
            ),
            "comment": st.column_config.TextColumn("Comment", width="medium"),
            "machine": st.column_config.TextColumn("Machine said", width=130),
            "sure": st.column_config.NumberColumn("Sure", format="percent", width=60),
        },
    )
    with st.container(horizontal=True):
        if st.button("Save corrections", key="save_corrections", type="primary", icon=":material/save:"):
            try:
                changes = corrections_from_edits(reviewed, _edits(edited), user.name)
                store.set_corrections(user, stored.id, changes)
            except ReviewError as e:
                st.error(markdown_text(str(e)), icon=":material/error:")
            else:
                st.session_state.editor_rev += 1
                st.toast(f"{len(changes)} utterance(s) updated.")
                st.rerun()
        if st.button("Mark reviewed", key="mark_reviewed", icon=":material/task_alt:", help="Nothing to correct"):
            store.mark_reviewed(user, stored.id)
            st.toast(f"{stored.title} is marked reviewed; {stored.owner.name} sees it.", icon=":material/task_alt:")
            st.rerun()
    with st.form("comment_form", clear_on_submit=True):
        text = st.text_area("Comment on the whole session", key="session_comment")
        if st.form_submit_button("Add comment", key="comment_submit", icon=":material/comment:") and text.strip():
            store.add_comment(user, stored.id, text)
            st.rerun()
    st.subheader("Agreement on this session")
    if stored.reviewed_by is None:
        st.caption("Shown once the session is reviewed: until then the machine's codes are all there is.")
    else:
        render_agreement_table(agreement(code_pairs(reviewed)))


def render_agreement(items: list[Item]) -> None:
    """Agreement of the instructors' codes with the machine's, over the cohort's reviewed sessions."""
    st.title("Agreement with the machine")
    done = [(stored, r) for stored, r in items if stored.reviewed_by is not None]
    if not done:
        st.info("No session has been reviewed yet. Open one from the Cohort page, correct it, and save.")
        return
    st.caption(f"Over {len(done)} reviewed session(s). A speaker changed to or from counsellor counts as disagreement.")
    render_agreement_table(agreement(pair for _, r in done for pair in code_pairs(r)))
