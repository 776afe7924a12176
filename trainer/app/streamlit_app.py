"""The trainer app: record a role play, read its feedback, follow progress; instructors review.

`trainer app` runs this file with Streamlit (from a checkout, `streamlit run app.py` runs it
too). Everything is stored in the data directory, $TRAINER_DATA_DIR (default: the user's data
folder); accounts are made with `trainer user add`.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from trainer.app import accounts
from trainer.app.accounts import User
from trainer.app.intake import max_upload_mb
from trainer.app.review import review
from trainer.app.store import Store, default_data_dir
from trainer.app.ui.common import close_session, init_state, open_session, reviewed_sessions
from trainer.app.ui.instructor import render_agreement, render_cohort, render_review
from trainer.app.ui.practise import render_history, render_rescoring, render_scoring
from trainer.app.ui.session_view import render_session
from trainer.errors import AccessDenied, AuthError, TrainerError
from trainer.speech.audio import AUDIO_EXTENSIONS

TRAINEE_PAGES = ("Practise", "My sessions")
INSTRUCTOR_PAGES = ("Cohort", "Agreement")


@st.cache_resource(show_spinner=False)
def load_store(data_dir: str) -> Store:
    """One store per data directory for the whole server."""
    return Store(data_dir)


def login_ui(has_users: bool) -> tuple[str, str] | None:
    """The sign-in form; (name, password) once submitted."""
    st.title("Listening trainer")
    st.caption("Practise active listening: record a role play, get feedback on it, and follow your progress.")
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary", key="login_submit")
    if not has_users:
        st.info("No accounts yet. Create them in a terminal: `trainer user add NAME --role trainee --cohort COHORT`.")
    return (name, password) if submitted else None


def nav_ui(user: User) -> str:
    """The sidebar: who is signed in, the pages of their role, and signing out."""
    with st.sidebar:
        st.markdown(f"**{user.name}** · {user.role} · cohort {user.cohort}")
        page = st.radio(
            "Pages", INSTRUCTOR_PAGES if user.is_instructor else TRAINEE_PAGES, key="nav", on_change=close_session
        )
        if st.button("Sign out", key="logout", icon=":material/logout:"):
            st.session_state.clear()
            st.query_params.clear()
            st.rerun()
    return page


def recording_ui(limit_mb: int) -> tuple[str, bytes] | None:
    """Record in the browser or upload a file; (name, bytes) once 'Score' is pressed."""
    st.title("Practise")
    st.markdown(
        "Record a role play of 5 to 15 minutes. A stereo recording with one voice per channel "
        "(counsellor on the left) tells the speakers apart most reliably."
    )
    how = st.radio("Source", ("Record here", "Upload a file"), key="source", horizontal=True)
    if how == "Record here":
        clip = st.audio_input("Record your role play", key="record")
        name = f"Recording {datetime.now():%Y-%m-%d %H:%M}.wav"
    else:
        clip = st.file_uploader(
            f"Upload a recording (up to {limit_mb} MB)",
            type=[e.lstrip(".") for e in AUDIO_EXTENSIONS],
            key="upload",
            max_upload_size=limit_mb,
        )
        name = clip.name if clip else ""
    pressed = st.button("Score session", key="score", type="primary", disabled=clip is None, icon=":material/grading:")
    return (name, clip.getvalue()) if pressed and clip is not None else None


def render_open_session(store: Store, user: User, session_id: int) -> bool:
    """The feedback page (and, for the cohort's instructor, the review tab); False if not allowed."""
    try:
        stored = store.session(user, session_id)
    except AccessDenied as e:
        close_session()
        st.error(str(e), icon=":material/block:")
        return False
    if st.button("Back", key="back", icon=":material/arrow_back:", type="tertiary"):
        close_session()
        st.rerun()
    reviewed = review(stored.document, stored.corrections, stored.comments)
    audio = store.audio_file(stored)
    if not accounts.can_review(user, stored.owner):
        render_session(stored, reviewed, audio, show_owner=False)
        return True
    feedback_tab, review_tab = st.tabs(["Feedback", "Review"], key="session_tabs")
    with feedback_tab:
        render_session(stored, reviewed, audio, show_owner=True)
    with review_tab:
        render_review(store, user, stored, reviewed)
        if audio is not None and st.button("Score again with current models", key="rescore", icon=":material/refresh:"):
            render_rescoring(store, user, stored.id)
    return True


def requested_session() -> int | None:
    """The session the URL asks for (?session=ID), if any; access is checked when it is loaded."""
    raw = st.query_params.get("session")
    if raw is None or raw == str(st.session_state.open_session):
        return st.session_state.open_session
    if not raw.isdigit():
        close_session()
        st.error(f"session {raw!r} does not exist or is not yours to open", icon=":material/block:")
        return None
    open_session(int(raw))
    return int(raw)


def main() -> None:
    """Sign in, then the pages of the user's role, or the session they opened."""
    st.set_page_config(page_title="Listening trainer", page_icon=":material/hearing:", layout="wide")
    init_state()
    try:
        store = load_store(str(default_data_dir().resolve()))
        limit_mb = max_upload_mb()
    except TrainerError as e:
        st.error(str(e), icon=":material/error:")
        st.stop()
    user: User | None = st.session_state.user
    if user is None:
        credentials = login_ui(store.has_users())
        if credentials is not None:
            try:
                st.session_state.user = accounts.login(store, *credentials)
            except AuthError as e:
                st.error(str(e), icon=":material/lock:")
                return
            st.rerun()
        return
    page = nav_ui(user)
    session_id = requested_session()
    if session_id is not None and render_open_session(store, user, session_id):
        return
    if page == "Practise":
        upload = recording_ui(limit_mb)
        if upload is not None:
            render_scoring(store, user, *upload, limit_mb=limit_mb)
    elif page == "My sessions":
        render_history(reviewed_sessions(store, user))
    elif page == "Cohort":
        render_cohort(store, user, reviewed_sessions(store, user))
    else:
        render_agreement(reviewed_sessions(store, user))


if __name__ == "__main__":  # run by Streamlit as a script
    main()
