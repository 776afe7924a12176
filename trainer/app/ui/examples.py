"""Beside the trainee's weakest moments, what experienced counsellors said at similar ones (AnnoMI)."""

from __future__ import annotations

import logging

import streamlit as st

from trainer.app.session_report import CODE_COLOURS
from trainer.errors import TrainerError, one_line
from trainer.safe_text import markdown_text
from trainer.schema import CodedUtterance, FeedbackItem
from trainer.scoring.examples import Moment, expert_moments
from trainer.vocabulary import CODE_LABELS

SOURCE = (
    "Experts' words from high-quality demonstration sessions of AnnoMI (Wu et al., ICASSP 2022), "
    "chosen because the client there said something similar."
)

log = logging.getLogger("trainer")


@st.cache_data(show_spinner=False, max_entries=64)
def _moments(item: FeedbackItem, utterances: tuple[CodedUtterance, ...]) -> tuple[Moment, ...]:
    """Cached: the page redraws on every click, the lookup needs to run once per session and point."""
    return expert_moments(item, utterances)


def _render_moment(moment: Moment) -> None:
    """The client's words, then the trainee's answer beside the experts' answers to similar words."""
    with st.container(border=True):
        st.markdown(f":material/person: **Client:** {markdown_text(moment.client)}")
        yours, theirs = st.columns(2)
        yours.markdown("**You said**")
        yours.markdown(f"> {markdown_text(moment.trainee)}")
        theirs.markdown("**An experienced counsellor said, at a similar moment**")
        for expert in moment.experts:
            badge = f":{CODE_COLOURS[expert.code]}-badge[{CODE_LABELS[expert.code]}]"
            theirs.markdown(f"{badge} {markdown_text(expert.reply)}")
            where = f"AnnoMI session {expert.transcript_id}, {expert.topic}"
            theirs.caption(f"Their client had said: “{markdown_text(expert.client)}” ({markdown_text(where)})")


def render_expert_examples(practise: tuple[FeedbackItem, ...], utterances: tuple[CodedUtterance, ...]) -> None:
    """Expert answers for each point to practise; nothing when no client statement is similar enough."""
    try:
        found = [(item, _moments(item, utterances)) for item in practise]
    except TrainerError as e:  # the index is missing from this install: the rest of the page still helps
        log.warning("expert examples unavailable: %s", one_line(e))
        return
    found = [(item, moments) for item, moments in found if moments]
    if not found:
        return
    with st.container(key="expert-examples"):
        st.markdown("##### What an experienced counsellor said at a similar moment")
        st.caption(SOURCE)
        for item, moments in found:
            st.markdown(f"**{markdown_text(item.title)}**")
            for moment in moments:
                _render_moment(moment)
