"""The Practise page's Live choice: the browser streams the microphone, the panel runs as you talk.

streamlit-webrtc carries the microphone to the server over WebRTC (on loopback no outside
server is involved, so no ICE servers are configured). When the trainee presses Stop, the
saved take is queued and scored as an ordinary upload: the same pipeline, the same stored JSON.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from trainer.app.accounts import User
from trainer.app.store import Store
from trainer.app.ui.practise import submit_upload
from trainer.app.voices import counsellor_voice
from trainer.live.browser import BrowserRecording
from trainer.live.panel import status_lines
from trainer.live.session import LiveOptions
from trainer.live.stats import LiveStats, bands
from trainer.schema import Code
from trainer.vocabulary import CODE_LABELS, LEVEL_LABELS

REFUSED = (
    "If the browser refuses the microphone (permission denied, or no device found), allow it in the "
    "address bar or connect one, then press Start again; or use Record here or Upload a file."
)
REFRESH_S = 1.0  # how often the panel redraws while the microphone streams
# The component's own messages, each one plain line.
MESSAGES = {
    "start": "Start",
    "stop": "Stop and score",
    "media_api_not_available": "This browser cannot record here: use Record here or Upload a file instead.",
    "device_ask_permission": "Allow the microphone when the browser asks.",
    "device_not_available": "No microphone was found: connect one, or upload a recording instead.",
    "device_access_denied": "Microphone permission was denied: allow it in the address bar, then press Start.",
}


def render_live(store: Store, user: User, limit_mb: int) -> None:
    """The live take: a Start/Stop control, the running panel, scoring when it stops."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    st.caption(
        "Press Start and talk: counts, reflections per question and nudges update as you go. "
        "Stop scores the whole recording like an upload."
    )
    # The component shows the browser's own refusal ("NotAllowedError: Permission denied") and
    # cannot be given other words for it, so what to do about it is said here, beside it.
    st.caption(REFUSED)
    if "live_take" not in st.session_state:
        live = LiveOptions(counsellor_voice=counsellor_voice(store, user))  # one microphone: roles by My voice
        st.session_state.live_take = BrowserRecording(store.incoming_dir, live)
    take: BrowserRecording = st.session_state.live_take
    context = webrtc_streamer(
        key="live",
        mode=WebRtcMode.SENDONLY,
        audio_frame_callback=take.on_frame,
        media_stream_constraints={"audio": True, "video": False},
        rtc_configuration={"iceServers": []},
        translations=MESSAGES,
    )
    if context.state.playing:
        # Redrawn until Stop: pressing it starts a new run of the script, which no longer calls it.
        st.fragment(lambda: _draw(take), run_every=REFRESH_S)()
    elif take.started and not context.state.signalling:
        path = take.stop()
        del st.session_state.live_take
        if path is not None:
            name = f"Live {datetime.now():%Y-%m-%d %H:%M}.wav"
            data = path.read_bytes()
            path.unlink(missing_ok=True)
            submit_upload(store, user, name, data, limit_mb)


def _draw(take: BrowserRecording) -> None:
    """One redraw of the running panel, as its own run.

    Each redraw must end: Streamlit clears what a run drew last time and did not draw again only
    when the run ends, so redrawing in one endless run left stale rows on the page (a code
    count from the row before, a nudge that no longer applied) whenever a redraw had fewer lines.
    """
    stats = take.snapshot()
    with st.container(key="live_panel"):
        if stats is None:
            st.caption("Waiting for the microphone...")
        else:
            render_panel(stats)


def render_panel(stats: LiveStats) -> None:
    """The running figures, as the terminal panel shows them.

    Each part whose number of rows varies (status lines, nudges, last coded) has a container
    of its own, so the figures keep their place from one redraw to the next: when a status line
    came or went, the figures moved up or down a slot and, mid-redraw, the browser showed a row
    of the old place beside the new one (two "Open question" counts).
    """
    with st.container(key="live_status"):
        for line in status_lines(stats):
            st.caption(line)
    for column, code in zip(st.columns(len(Code)), Code):
        column.metric(CODE_LABELS[code], stats.metrics.count(code))
    for column, (label, value, level, good, likely) in zip(st.columns(3), bands(stats.metrics)):
        column.metric(label, value, help=good)
        column.caption(f"{LEVEL_LABELS[level]} ({good})" + (f"; {likely}" if likely else ""))
    with st.container(key="live_nudges"):
        for nudge in stats.nudges:
            st.info(nudge, icon=":material/lightbulb:")
    with st.container(key="live_recent"):
        if stats.recent:
            st.markdown("**Last coded**")
            for c in reversed(stats.recent):
                st.markdown(f"- *{CODE_LABELS[c.code]}*: {c.text}")
