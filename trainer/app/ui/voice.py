"""The trainee's "My voice" page, and the "which one is you?" question (asked on an unsure session)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import streamlit as st

from trainer.app.accounts import User
from trainer.app.review import StoredSession
from trainer.app.store import Store
from trainer.app.voices import (
    PROFILE_KEY,
    delete_profile,
    enrol_upload,
    has_profile,
    pick_counsellor,
    profile_path,
    roles_unsure,
    voices_to_pick,
)
from trainer.errors import TrainerError, one_line
from trainer.safe_text import markdown_text
from trainer.speech.audio import AUDIO_EXTENSIONS, SAMPLE_RATE, load_audio
from trainer.vocabulary import ROLE_LABELS

SOURCES = ("Record here", "Upload a file")  # a voice is recorded whole: Practise's live mode has no place here
RECORDING_NAME = "your recording.wav"  # how a recording made on the page is named in messages


def render_voice_page(store: Store, user: User, limit_mb: int) -> None:
    """Record or upload about 20 s of the trainee's voice; see, replace or delete the saved profile."""
    st.title("My voice")
    st.markdown(
        "Record about 20 s of yourself speaking, once, alone and in a quiet room. From then on, in every "
        "recording you score, the voice closest to yours is taken as the counsellor's, rather than "
        "guessed from what each voice says."
    )
    status = st.container()  # filled after the button below has acted, so it shows the outcome
    how = st.radio("Source", SOURCES, key="voice_source", horizontal=True)
    if how == SOURCES[0]:
        clip = st.audio_input("Record about 20 s of your voice", key="voice_record")
        name = RECORDING_NAME
    else:
        clip = st.file_uploader(
            "Upload a recording of your voice",
            type=[e.lstrip(".") for e in AUDIO_EXTENSIONS],
            key="voice_upload",
            max_upload_size=limit_mb,
        )
        name = clip.name if clip else ""
    path = profile_path(store, user)
    label = "Replace my voice" if path.is_file() else "Save my voice"
    if st.button(label, key="voice_save", type="primary", disabled=clip is None, icon=":material/mic:"):
        try:
            with st.spinner("Learning your voice…"):
                enrol_upload(store, user, name, clip.getvalue())
        except TrainerError as e:
            status.error(markdown_text(one_line(e)), icon=":material/error:")
        else:
            st.rerun()  # the page anew: the saved voice's status, and the button now replaces it
    with status:
        _profile_status(store, user, path)


def _profile_status(store: Store, user: User, path: Path) -> None:
    """Whether a profile is saved, and a button to delete it."""
    if not path.is_file():
        st.info("No voice saved: roles come from what each voice says, and an unsure session asks which is yours.")
        return
    saved = datetime.fromtimestamp(path.stat().st_mtime)
    st.success(f"Your voice is saved ({saved:%Y-%m-%d %H:%M}); sessions you score from now on find you by it.")
    if st.button("Delete my voice", key="voice_delete", icon=":material/delete:"):
        delete_profile(store, user)
        st.rerun()


@st.cache_data(max_entries=8, show_spinner=False)
def _clips(audio: str, spans: tuple[tuple[float, float], ...]) -> list[np.ndarray]:
    """Stretches of a recording, decoded once per session page rather than on every rerun."""
    samples = load_audio(audio).mono()
    return [samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] for start, end in spans]


def _how_chosen(speakers: dict, own: bool) -> str:
    """How the counsellor's voice was found, in a sentence."""
    if speakers.get(PROFILE_KEY):
        return f"The counsellor was found by {'your' if own else 'the trainee’s'} saved voice."
    confidence = speakers.get("role_confidence", 1.0)
    if confidence >= 1.0:
        return "The counsellor was chosen by a person."
    return f"The counsellor was picked by what each voice says, {confidence:.0%} sure."


def render_voice_picker(store: Store, user: User, stored: StoredSession, audio: Path | None) -> None:
    """Ask which voice is the counsellor's when the roles are unsure, else offer it behind a switch;
    the answer re-codes the session."""
    voices = voices_to_pick(stored.document)
    if not voices or audio is None or not audio.is_file():
        return
    own = user.id == stored.owner.id
    unsure = roles_unsure(stored.document)
    # Sure roles can still be wrong (or a click was): the switch keeps the clips undecoded until asked.
    if not unsure and not st.toggle(
        "Change which voice is " + ("yours" if own else "the counsellor's"), key=f"voices-{stored.id}"
    ):
        return
    with st.container(border=True, key="voice_picker"):
        st.markdown("**Which one is you?**" if own else "**Which voice is the counsellor's?**")
        advice = ""
        if own and unsure and not has_profile(store, user):
            advice = " Saving your voice under *My voice* spares this question next time."
        st.caption(
            f"{_how_chosen(stored.document['speakers'], own)} Listen to each voice "
            f"and choose: the session is coded again, without transcribing it again.{advice}"
        )
        try:
            clips = _clips(str(audio), tuple((v.clip_start, v.clip_end) for v in voices))
        except TrainerError as e:
            st.error(markdown_text(one_line(e)), icon=":material/error:")
            return
        chosen: str | list[str] | None = None
        numbers = {voice.label: number for number, voice in enumerate(voices, start=1)}
        observers: list[str] = []
        if len(voices) > 2:  # an observer's words count for nobody
            observers = st.multiselect(
                "Observers: neither " + ("you" if own else "the counsellor") + " nor the client (their words count "
                "for nobody)",
                list(numbers),
                default=[v.label for v in voices if v.observer],
                format_func=lambda label: f"Voice {numbers[label]}",
                key=f"pick-observers-{stored.id}",
                placeholder="none",
            )
        for column, voice, clip in zip(st.columns(len(voices)), voices, clips):
            with column:
                now = "set aside" if voice.observer else f"the {ROLE_LABELS[voice.role].lower()}"
                st.markdown(f"Voice {numbers[voice.label]}, now {now}")
                st.audio(clip, sample_rate=SAMPLE_RATE)
                label = "This is me" if own else "The counsellor"
                if st.button(label, key=f"pick-{voice.label}", disabled=voice.label in observers):
                    chosen = voice.label
        if len(voices) > 2:  # in a long recording one person's voice can come out as two
            with st.container(horizontal=True, vertical_alignment="bottom"):
                several = st.multiselect(
                    "More than one of these is " + ("you?" if own else "the counsellor?"),
                    [label for label in numbers if label not in observers],
                    format_func=lambda label: f"Voice {numbers[label]}",
                    key=f"pick-several-{stored.id}",
                    placeholder="choose each one",
                )
                label = "These are me" if own else "These are the counsellor"
                if st.button(label, key="pick-several-save", disabled=len(several) < 2):
                    chosen = several
        if not chosen:
            return
        try:
            with st.spinner("Coding the session again…"):
                pick_counsellor(store, user, stored, chosen, observers)
        except TrainerError as e:
            st.error(markdown_text(one_line(e)), icon=":material/error:")
            return
    st.session_state.pop(f"voices-{stored.id}", None)  # decided: the switch folds the voices away again
    st.rerun()
