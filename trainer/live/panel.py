"""The running panel of a live session, drawn with rich (terminal) or as plain rows (app)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trainer.live.stats import LiveStats, bands
from trainer.schema import Code
from trainer.speech.level import is_noisy
from trainer.vocabulary import CODE_LABELS, LEVEL_LABELS, LEVEL_STYLES

BEHIND_S = 5.0  # more speech than this waiting: the panel says it is catching up
# One microphone: live windows run over turn changes and go to one of two running voices whole;
# on real meeting speech the share was off by a median 0.26 (README, Live practice), so it is
# shown as a rough guess and the score after Stop gives the measured range.
ROUGH_TALK = "one microphone: a rough guess; the score after Stop gives its likely range"


def clock(seconds: float) -> str:
    """mm:ss."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def share(value: float | None) -> str:
    """A fraction as a percentage, or a dash when undefined."""
    return "-" if value is None else f"{value:.0%}"


def status_lines(stats: LiveStats) -> list[str]:
    """Elapsed time, talk share, role note and how far behind the view is, one line each."""
    talk = f"{clock(stats.elapsed_s)}  counsellor talk share so far: {share(stats.talk_share)}"
    if stats.one_microphone and stats.talk_share is not None:
        talk += f" ({ROUGH_TALK})"
    lines = [talk, stats.roles_note]
    noise = stats.speech_over_background_db
    if is_noisy(noise):
        lines.append(
            f"Noisy room: speech only {noise:.0f} dB above the background, so voices and words may be missed; "
            "move nearer the microphone or somewhere quieter."
        )
    if stats.error:
        lines.append(stats.error)
    elif not stats.ready:
        lines.append("Loading the speech and coding models...")
    if stats.waiting_s > BEHIND_S:
        lines.append(f"Catching up: {stats.waiting_s:.0f} s of speech still to transcribe.")
    if stats.skipped_s:
        lines.append(
            f"{stats.skipped_s:.0f} s of speech left out of these live figures (the recording and its score keep it)."
        )
    return lines


def render(stats: LiveStats) -> RenderableType:
    """The whole panel for a terminal."""
    counts = Table.grid(padding=(0, 2))
    for code in Code:
        counts.add_row(CODE_LABELS[code], str(stats.metrics.count(code)))
    metrics = Table.grid(padding=(0, 2))
    for label, value, lvl, good, likely in bands(stats.metrics):
        style = LEVEL_STYLES[lvl]
        shown = Text(value, style=style) + Text(f" ({likely})" if likely else "", style="dim")
        metrics.add_row(label, shown, Text(LEVEL_LABELS[lvl], style=style), Text(f"({good})", style="dim"))
    recent = Table.grid(padding=(0, 2))
    for c in stats.recent:
        recent.add_row(Text(CODE_LABELS[c.code], style="bold"), c.text)
    parts: list[RenderableType] = [Text("\n".join(status_lines(stats))), counts, metrics]
    if stats.recent:
        parts += [Text("Last coded:", style="bold"), recent]
    parts += [Text(n, style="bold magenta") for n in stats.nudges]
    return Panel(Group(*parts), title="Live practice (Enter or Ctrl-C ends and scores)")
