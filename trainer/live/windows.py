"""Transcribe speech windows as they end, with the previous window's words as context.

Whisper always encodes 30 s of audio, so one short window costs about as much as
several: when the live path falls behind, the waiting windows are transcribed
together in one call (up to MAX_BATCH_S of speech) and the words are handed back to
the window they came from. That is how it catches up without dropping anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from trainer.live.vad import SAMPLE_RATE, SpeechWindow
from trainer.schema import Word
from trainer.speech.transcribe import TranscribeOptions, transcribe

MAX_BATCH_S = 25.0  # speech per Whisper call when catching up; Whisper reads 30 s at most
GAP_S = 0.3  # silence put between windows transcribed together, so words do not run on
CONTEXT_WORDS = 40  # words of what was said before, given to Whisper as its prompt


def batch(windows: Sequence[SpeechWindow], max_s: float = MAX_BATCH_S) -> int:
    """How many of the first windows fit in one call (always at least one)."""
    total, n = 0.0, 0
    for window in windows:
        total += window.duration_s + GAP_S
        if n and total > max_s:
            break
        n += 1
    return max(1, n)


def transcribe_windows(
    windows: Sequence[SpeechWindow], options: TranscribeOptions, context: str = ""
) -> list[tuple[Word, ...]]:
    """Words of each window, with times in the stream, from one Whisper call.

    Args:
        windows: speech windows, each short enough that together they fit in one call.
        options: model and decoding settings; the VAD is off (the windows are speech).
        context: what was said just before, to keep names and spelling consistent.
    """
    gap = np.zeros(round(GAP_S * SAMPLE_RATE), dtype=np.float32)
    starts, pieces, at = [], [], 0
    for window in windows:
        starts.append(at / SAMPLE_RATE)
        pieces += [window.samples, gap]
        at += len(window.samples) + len(gap)
    prompt = " ".join(p for p in (options.initial_prompt, context) if p) or None
    heard = transcribe(np.concatenate(pieces), replace(options, vad_filter=False, initial_prompt=prompt))
    words: list[list[Word]] = [[] for _ in windows]
    for word in heard.words:
        i = max(0, int(np.searchsorted(starts, (word.start + word.end) / 2, side="right")) - 1)
        shift = windows[i].start - starts[i]
        # Whisper's word times may spill into the silence around a window: keep them inside it.
        end = min(max(word.end + shift, windows[i].start), windows[i].end)
        words[i].append(replace(word, start=min(max(word.start + shift, windows[i].start), end), end=end))
    return [tuple(w) for w in words]


def context_of(texts: Sequence[str], n_words: int = CONTEXT_WORDS) -> str:
    """The last `n_words` words of what was said, as one prompt."""
    return " ".join(" ".join(texts).split()[-n_words:])
