"""`trainer record --live`: record from the microphone with the running panel in the terminal."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from trainer.live.panel import render
from trainer.live.session import LiveOptions, LiveSession, default_roles
from trainer.live.stats import LiveStats
from trainer.speech import record as recorder

REFRESH_PER_S = 4  # panel redraws per second


def record_live(
    out: str | Path,
    stop: threading.Event,
    console: Console,
    live: LiveOptions = LiveOptions(),
    options: recorder.RecordOptions = recorder.RecordOptions(),
    open_stream: recorder.StreamOpener | None = None,
) -> tuple[recorder.Recording, LiveStats | None]:
    """Record until stopped (Enter, Ctrl-C, `options.max_s`) while the panel shows running figures.

    The panel appears once the microphone is open, so a missing microphone gives its one
    line and nothing else.

    Returns:
        The recording and the last figures shown (None if no audio came).

    Raises:
        RecordingError: no microphone, or the file cannot be written.
        TrainerError: the enrolled voice in `live` cannot be found or used.
    """
    opener = open_stream or recorder.open_microphone
    roles = default_roles(live, options.channels)  # an enrolled voice that cannot be used stops before recording
    sessions: list[LiveSession] = []

    with ExitStack() as stack:
        views: list[Live] = []

        def open_and_listen(**kwargs: Any) -> recorder.InputStream:
            stream = opener(**kwargs)
            sessions.append(LiveSession(int(stream.samplerate), kwargs["channels"], live, roles))
            views.append(stack.enter_context(Live(console=console, refresh_per_second=REFRESH_PER_S)))
            return stream

        def show(db: float, elapsed: float) -> None:
            views[0].update(render(sessions[0].snapshot()))

        done = recorder.record(
            out, stop, options, on_level=show, open_stream=open_and_listen, on_block=lambda b: sessions[0].feed(b)
        )
        if not sessions:
            return done, None
        sessions[0].finish(wait=False)  # the full score follows; what still waits adds nothing
        last = sessions[0].snapshot()
        views[0].update(render(last))
    return done, last
