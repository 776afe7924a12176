"""The trainer app: record a role play, read its feedback, follow progress; instructors review.

`trainer app` runs this file with Streamlit, behind the routes of `serve.py` (from a checkout,
`streamlit run app.py` runs it too, without them). Everything is stored in the data directory,
$TRAINER_DATA_DIR (default: the user's data folder); accounts are made with `trainer user add`.
"""

from __future__ import annotations

import json
import reprlib
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

import streamlit as st

from trainer.app import accounts, jobs, signin, web
from trainer.app.accounts import User
from trainer.app.intake import UPLOAD_EXTENSIONS, max_upload_mb
from trainer.app.review import review
from trainer.app.store import Store, default_data_dir, parse_id
from trainer.app.ui.common import close_session, init_state, open_session, reviewed_sessions
from trainer.app.ui.instructor import quick_corrector, render_agreement, render_cohort, render_review
from trainer.app.ui.live import render_live
from trainer.app.ui.practise import render_history, render_jobs, render_naming, render_rescoring, submit_upload
from trainer.app.ui.session_view import render_session
from trainer.app.ui.voice import render_voice_page, render_voice_picker
from trainer.errors import AccessDenied, AuthError, TrainerError
from trainer.safe_text import markdown_text

TRAINEE_PAGES = ("Practise", "My sessions", "My voice")
SOURCES = ("Record here", "Upload a file", "Live")
INSTRUCTOR_PAGES = ("Cohort", "Agreement")
# Served by the app itself: a ":material/...:" icon would make the browser fetch it from Google's font host.
FAVICON = Path(__file__).with_name("favicon.png")


@st.cache_resource(show_spinner=False)
def load_store(data_dir: str) -> Store:
    """One store per data directory for the whole server, with its scoring worker running."""
    store = Store(data_dir)
    jobs.worker_for(store)
    return store


# Players drawn in the same run as the sign-in ask for their media before the cookie exists and are
# refused (MediaGuard); once the cookie is set, those that failed load again. A player's request can
# still be on its way as the cookie lands, so the check repeats for a few seconds.
_RELOAD_REFUSED_MEDIA = """
const reload = () => document.querySelectorAll('audio, video').forEach(m => {
  if (m.error && !m.dataset.reloaded) { m.dataset.reloaded = '1'; m.load(); }
});
[0, 500, 1500, 3000, 6000].forEach(ms => setTimeout(reload, ms));
"""


def cookie_script(path: str, body: str = "") -> None:
    """Ask the browser to POST to one of the app's routes (trainer/app/web.py), which sets or clears the cookie."""
    if web.serving():
        call = f"fetch({json.dumps(path)}, {{method: 'POST', body: {json.dumps(body)}, credentials: 'same-origin'}})"
        st.html(
            f"<script>{call}.then(r => {{ if (r.ok) {{ {_RELOAD_REFUSED_MEDIA} }} }})</script>",
            unsafe_allow_javascript=True,
        )


def signed_in_user(store: Store) -> User | None:
    """Who this tab belongs to: signed in here, or by the cookie of an earlier sign-in (reload, new tab)."""
    if st.session_state.user is None:
        token = st.context.cookies.get(signin.COOKIE)
        user = signin.user_for(store, token)
        if user is not None:
            st.session_state.user, st.session_state.token = user, token
    return st.session_state.user


def sign_in(store: Store, name: str, password: str) -> None:
    """Check the password (throttled per name and per address), then issue this browser's token."""
    try:
        user = accounts.login(store, name, password, client=st.context.ip_address)
    except AuthError as e:
        st.error(str(e), icon=":material/lock:")
        return
    token = signin.issue(store, user)
    st.session_state.user, st.session_state.token = user, token
    st.session_state.cookie_ticket = signin.ticket(store, token)
    st.rerun()


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


def nav_ui(store: Store, user: User) -> str:
    """The sidebar: who is signed in, the pages of their role, and signing out."""
    with st.sidebar:
        st.markdown(f"**{markdown_text(user.name)}** · {user.role} · cohort {markdown_text(user.cohort)}")
        page = st.radio(
            "Pages", INSTRUCTOR_PAGES if user.is_instructor else TRAINEE_PAGES, key="nav", on_change=close_session
        )
        if st.button("Sign out", key="logout", icon=":material/logout:"):
            signin.revoke(store, st.session_state.token)
            st.session_state.clear()
            st.session_state.signed_out = True  # the next page deletes the cookie too
            st.query_params.clear()
            st.rerun()
        ticket = st.session_state.pop("cookie_ticket", None)
        if ticket is not None:
            cookie_script("api/sign-in", ticket)
    return page


def recording_ui(limit_mb: int) -> tuple[str, bytes] | None:
    """Record in the browser or upload a file; (name, bytes) once 'Score' is pressed."""
    st.title("Practise")
    st.markdown(
        "Record a role play of 5 to 15 minutes. A stereo recording with one voice per channel "
        "(counsellor on the left) tells the speakers apart most reliably."
    )
    # The choice is kept apart from the widget, whose state Streamlit drops while a session page is shown.
    how = st.radio(
        "Source",
        SOURCES,
        index=SOURCES.index(st.session_state.source_choice),
        key="source",
        horizontal=True,
        on_change=lambda: st.session_state.update(source_choice=st.session_state.source),
    )
    if how == "Live":
        return None  # the live take scores itself when it stops (render_live)
    if how == "Record here":
        clip = st.audio_input("Record your role play", key="record")
        name = f"Recording {datetime.now():%Y-%m-%d %H:%M}.wav"
    else:
        clip = st.file_uploader(
            f"Upload a recording or a transcript (up to {limit_mb} MB)",
            type=[e.lstrip(".") for e in UPLOAD_EXTENSIONS],
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
        st.error(markdown_text(str(e)), icon=":material/block:")
        return False
    with st.container(horizontal=True, vertical_alignment="center"):
        if st.button("Back", key="back", icon=":material/arrow_back:", type="tertiary"):
            close_session()
            st.rerun()
        render_naming(store, user, stored)
    reviewed = review(stored.document, stored.corrections, stored.comments, stored.reviewed_by is not None)
    audio = store.audio_file(stored)
    url = urljoin(st.context.url or "", web.RECORDING_PATH.format(session_id=stored.id)) if web.serving() else None
    if not accounts.can_review(user, stored.owner):
        render_voice_picker(store, user, stored, audio)
        render_session(stored, reviewed, audio, show_owner=False, audio_url=url)
        return True
    feedback_tab, review_tab = st.tabs(["Feedback", "Review"], key="session_tabs")
    with feedback_tab:
        render_session(stored, reviewed, audio, True, url, quick_corrector(store, user, stored, reviewed))
    with review_tab:
        render_voice_picker(store, user, stored, audio)
        render_review(store, user, stored, reviewed)
        if audio is not None:
            render_rescoring(store, user, stored.id)
    return True


def requested_session() -> int | None:
    """The session the URL asks for (?session=ID), if any; access is checked when it is loaded.

    A click that reaches the server before the browser has dropped the address of a session the
    user just closed still carries it; that session stays closed (a reload starts a new tab state).
    """
    raw = st.query_params.get("session")
    if raw is None or raw == str(st.session_state.open_session):
        return st.session_state.open_session
    if raw == str(st.session_state.closed_session):
        close_session()
        return None
    session_id = parse_id(raw)
    if session_id is None:
        close_session()
        shown = markdown_text(reprlib.repr(raw))
        st.error(f"session {shown} does not exist or is not yours to open", icon=":material/block:")
        return None
    open_session(session_id)
    return session_id


def main() -> None:
    """Sign in, then the pages of the user's role, or the session they opened."""
    st.set_page_config(page_title="Listening trainer", page_icon=str(FAVICON), layout="wide")
    init_state()
    try:
        store = load_store(str(default_data_dir().resolve()))
        limit_mb = max_upload_mb()
    except TrainerError as e:
        st.error(markdown_text(str(e)), icon=":material/error:")
        st.stop()
    user = signed_in_user(store)
    if user is None:
        if st.session_state.pop("signed_out", False):
            cookie_script("api/sign-out")
        credentials = login_ui(store.has_users())
        if credentials is not None:
            sign_in(store, *credentials)
        return
    page = nav_ui(store, user)
    session_id = requested_session()
    if session_id is not None and render_open_session(store, user, session_id):
        return
    if page == "Practise":
        upload = recording_ui(limit_mb)
        if st.session_state.source_choice == "Live":
            render_live(store, user, limit_mb)
        elif upload is not None:
            submit_upload(store, user, *upload, limit_mb=limit_mb)
        render_jobs(store, user)
    elif page == "My sessions":
        render_history(reviewed_sessions(store, user))
    elif page == "My voice":
        render_voice_page(store, user, limit_mb)
    elif page == "Cohort":
        render_cohort(store, user, reviewed_sessions(store, user))
    else:
        render_agreement(reviewed_sessions(store, user))


if __name__ == "__main__":  # run by Streamlit as a script
    main()
