"""The feedback page of one session: metrics, written feedback, charts, transcript, downloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from trainer.app.review import Reviewed, StoredSession, export_csv, export_document
from trainer.app.session_report import (
    CODE_COLOURS,
    LEVEL_COLOURS,
    LOW_CONFIDENCE,
    clock,
    format_range,
    is_low_confidence,
    machine_label,
    render_report,
)
from trainer.app.ui.charts import talk_time_chart, timeline_chart
from trainer.app.ui.common import LEVEL_HEADINGS
from trainer.app.ui.examples import render_expert_examples
from trainer.batch.output import json_text
from trainer.safe_text import markdown_text
from trainer.schema import Code, CodedUtterance, FeedbackItem, Role
from trainer.scoring.feedback import level_note
from trainer.vocabulary import CODE_LABELS, LEVEL_LABELS, METRIC, METRIC_KEYS, ROLE_LABELS, Level

AUDIO_MIME = {  # by extension, for every format in trainer.speech.audio.AUDIO_EXTENSIONS
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
    ".mp4": "audio/mp4",
}
Corrector = Callable[[int, Code], None]  # stores an instructor's code for utterance i
AVATARS = {Role.COUNSELLOR: ":material/record_voice_over:", Role.CLIENT: ":material/person:"}
ITEMS_PER_ROW = 3  # feedback cards side by side; more would squeeze the quotes


def _play(start: float) -> None:
    st.session_state.play_from = start
    st.session_state.autoplay = True


def render_player(audio: Path | None, url: str | None = None) -> None:
    """The recording, starting where the last clicked utterance starts (shown in the sidebar).

    With `url` (the app's own access-checked route) the browser fetches it from there; without,
    Streamlit serves the file at a media URL of its own.
    """
    if audio is None or not audio.is_file():
        return
    st.sidebar.subheader("Recording")
    st.sidebar.audio(
        url or str(audio),
        format=AUDIO_MIME[audio.suffix],
        start_time=st.session_state.play_from,
        autoplay=st.session_state.autoplay,
    )
    st.sidebar.caption("Press ▶ beside an utterance to hear it.")


def _card_level(key: str, value: float | None) -> tuple[str, str]:
    """What a metric card's delta says, and its colour."""
    metric = METRIC[key]
    if metric.miti or value is None:
        text = metric.verdict(value)
        return LEVEL_HEADINGS.get(text, text), LEVEL_COLOURS[metric.judge(value)]
    return ("high", "orange") if metric.judge(value) is Level.PRACTISE else ("on track", "green")


def _levels_between(key: str, interval: tuple[float, float]) -> str:
    """The levels a likely range spans, in a few words: "fair or good?", "below fair to good?"."""
    metric = METRIC[key]
    if not metric.miti:  # talk share: the range straddles its guide
        return "on track or high?"
    low, high = (metric.judge(v).value for v in interval)
    order = [Level.PRACTISE.value, Level.FAIR.value, Level.GOOD.value]
    joiner = " or " if order.index(high) - order.index(low) == 1 else " to "
    return LEVEL_HEADINGS.get(low, low) + joiner + LEVEL_HEADINGS.get(high, high) + "?"


def render_metric_cards(reviewed: Reviewed) -> None:
    """One card per metric, its MITI level as the coloured delta and the thresholds beside it."""
    m = reviewed.session.metrics
    for column, key in zip(st.columns(len(METRIC_KEYS)), METRIC_KEYS):
        value, metric = getattr(m, key), METRIC[key]
        if metric.miti:
            detail = f"fair ≥ {metric.show(metric.fair)} · good ≥ {metric.show(metric.good)}"
            help_text = f"MITI thresholds ({metric.source})"
        else:
            detail = f"guide: at most {metric.show(metric.guide)}"
            help_text = "Guidance, not a MITI threshold: in MI the client does most of the talking."
        text, colour = _card_level(key, value)
        interval = m.interval(key)
        if interval is not None:  # the coder or the voices left doubt: say how far the value may be off
            note = level_note(key, interval)
            if note:  # the sentence goes in the help; the card has room for a few words only
                text, help_text = _levels_between(key, interval), f"{help_text}. Level: {note}."
            detail = f"{format_range(key, interval)} · {detail}"
        # Label and thresholds as text that wraps: st.metric cuts its own label off on a narrow card.
        with column.container(border=True, height="stretch", gap="small"):
            st.markdown(metric.label, help=help_text)
            shown = metric.show(value)
            st.metric(
                metric.label, shown, delta=text, delta_color=colour, delta_arrow="off", label_visibility="collapsed"
            )
            st.caption(detail)


def _render_items(items: tuple[FeedbackItem, ...], per_row: int) -> None:
    """Feedback points as cards, a few side by side."""
    for start in range(0, len(items), per_row):
        for column, item in zip(st.columns(per_row), items[start : start + per_row]):
            with column.container(border=True, height="stretch"):
                badge = f":{LEVEL_COLOURS.get(item.level, 'gray')}-badge[{LEVEL_LABELS.get(item.level, item.level)}]"
                st.markdown(f"{badge} **{markdown_text(item.title)}**")
                st.markdown(markdown_text(item.message))
                for example in item.examples:
                    st.markdown(f"> {markdown_text(example)}")


def render_feedback(reviewed: Reviewed) -> None:
    """The written feedback, each point with the trainee's own utterances as examples."""
    f = reviewed.session.feedback
    with st.container(key="feedback"):
        st.subheader("Feedback")
        (st.success if not f.practise else st.info)(markdown_text(f.summary))
        for comment in reviewed.comments:
            said = f"**{markdown_text(comment.author)}** (instructor): {markdown_text(comment.text)}"
            st.info(said, icon=":material/school:")
        if f.practise:
            st.markdown("##### To practise next")
            _render_items(f.practise, per_row=2)
            render_expert_examples(f.practise, reviewed.session.utterances)
        if f.strengths:
            st.markdown("##### What went well")
            _render_items(f.strengths, per_row=min(len(f.strengths), ITEMS_PER_ROW))
        if f.notes:  # guidance and later goals, some of them points to work on: not under "went well"
            st.markdown("##### Also")
            _render_items(f.notes, per_row=min(len(f.notes), ITEMS_PER_ROW))


def render_charts(reviewed: Reviewed) -> None:
    """Talk time per side, and a timeline of who spoke when."""
    left, right = st.columns([1, 2])
    with left:
        st.markdown("##### Talk time")
        st.altair_chart(talk_time_chart(reviewed.session), width="stretch")
        if reviewed.session.metrics.interval("counsellor_talk_share") is not None:
            st.caption("Whiskers: the likely range, since one microphone cannot always tell the voices apart.")
    timeline = timeline_chart(reviewed.session)
    with right:
        st.markdown("##### Who spoke when")
        if timeline is None:
            st.caption("This transcript has no times.")
        else:
            st.altair_chart(timeline, width="stretch")


def render_legend() -> None:
    """The code colours, and what the low-confidence mark means."""
    with st.container(horizontal=True, gap="small"):
        for code, label in CODE_LABELS.items():
            st.badge(label, color=CODE_COLOURS[code])
        st.badge(f"coder < {LOW_CONFIDENCE:.0%} sure", icon=":material/help:", color="gray")


def _code_badge(coded: CodedUtterance, corrected: bool, confirmed: bool) -> str:
    """The code as a coloured markdown badge, marked when the coder was unsure (and no instructor
    has confirmed it since) or a human changed it."""
    if coded.code is None:
        return ""
    label = CODE_LABELS[coded.code]
    if is_low_confidence(coded) and not confirmed:
        label = f":material/help: {label} ({coded.confidence:.0%} sure)"
    elif corrected:
        label = f":material/edit: {label}"
    return f":{CODE_COLOURS[coded.code]}-badge[{label}] "


def _quick_fix(i: int, key: str, correct: Corrector) -> None:
    """A code pill was clicked: store that code for utterance i (clicking the chosen one again keeps it)."""
    if st.session_state[key]:
        correct(i, Code(st.session_state[key]))


def _render_utterance(
    i: int, coded: CodedUtterance, reviewed: Reviewed, playable: bool, confirmed: bool, correct: Corrector | None
) -> None:
    u = coded.utterance
    fix = reviewed.correction(i)
    corrected = fix is not None and fix.changes_coding
    text = markdown_text(u.text)
    if coded.code is not None:
        text = f":{CODE_COLOURS[coded.code]}-background[{text}]"
    with st.chat_message(ROLE_LABELS[u.speaker], avatar=AVATARS[u.speaker]):
        with st.container(horizontal=True, gap="small", vertical_alignment="center", wrap=False):
            if playable and u.start is not None:
                st.button(
                    clock(u.start),
                    key=f"play-{i}",
                    icon=":material/play_arrow:",
                    type="tertiary",
                    on_click=_play,
                    args=(u.start,),
                    help="Play from here",
                )
            st.markdown(_code_badge(coded, corrected, confirmed) + text)
        if correct is not None and u.speaker is Role.COUNSELLOR:
            key = f"quick-{i}-{st.session_state.editor_rev}"
            st.pills(
                f"Code of utterance {i}",
                [c.value for c in Code],
                format_func=lambda v: CODE_LABELS[Code(v)],
                default=coded.code.value if coded.code else None,
                key=key,
                label_visibility="collapsed",
                on_change=_quick_fix,
                args=(i, key, correct),
            )
        if corrected:
            was = machine_label(reviewed.automatic.utterances[i])
            st.caption(f"Corrected by {markdown_text(fix.author)}; the machine said {markdown_text(was)}.")
        if fix and fix.comment:
            st.caption(f":material/comment: **{markdown_text(fix.author)}**: {markdown_text(fix.comment)}")


def render_transcript(
    reviewed: Reviewed, playable: bool, confirmed: bool = False, correct: Corrector | None = None
) -> None:
    """The conversation, counsellor turns coloured by code; with `correct`, one click per code corrects a turn.

    `confirmed`: an instructor has reviewed the session, so no code is marked as unsure any more.
    """
    st.subheader("Transcript")
    render_legend()
    if correct is not None:
        st.caption("Click a code under a counsellor turn to correct it; ▶ plays the turn.")
    for i, coded in enumerate(reviewed.session.utterances):
        _render_utterance(i, coded, reviewed, playable, confirmed, correct)


def render_downloads(stored: StoredSession, reviewed: Reviewed) -> None:
    """JSON and CSV of the result (with any corrections), and the printable report."""
    stem = Path(stored.title).stem or f"session-{stored.id}"
    document = json_text(export_document(stored, reviewed))
    with st.container(horizontal=True):
        st.download_button(
            "JSON",
            document,
            f"{stem}.json",
            "application/json",
            key="download-json",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            "CSV (utterances)",
            export_csv(reviewed),
            f"{stem}.csv",
            "text/csv",
            key="download-csv",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            "Printable report",
            render_report(stored, reviewed),
            f"{stem}.html",
            "text/html",
            key="download-html",
            icon=":material/print:",
            on_click="ignore",
        )


def render_session(
    stored: StoredSession,
    reviewed: Reviewed,
    audio: Path | None,
    show_owner: bool,
    audio_url: str | None = None,
    correct: Corrector | None = None,
) -> None:
    """The whole feedback page of one session (`audio_url`: see `render_player`; `correct`: an instructor's)."""
    s = reviewed.session
    st.title(markdown_text(stored.title))
    facts = [stored.created_at[:16].replace("T", " ") + " UTC", clock(s.duration_s)]
    if show_owner:
        facts.insert(0, f"{stored.owner.name} ({stored.owner.cohort})")
    facts.append(f"reviewed by {stored.reviewed_by}" if stored.reviewed_by else "not reviewed yet")
    st.caption(" · ".join(markdown_text(f) for f in facts if f))
    for warning in s.warnings:
        st.warning(markdown_text(warning), icon=":material/warning:")
    render_metric_cards(reviewed)
    render_feedback(reviewed)
    render_charts(reviewed)
    recording = audio if audio is not None and audio.suffix in AUDIO_MIME else None  # not an uploaded transcript
    render_player(recording, audio_url)
    render_transcript(reviewed, recording is not None, stored.reviewed_by is not None, correct)
    st.subheader("Downloads")
    render_downloads(stored, reviewed)
