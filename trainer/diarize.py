"""Stage 3 for one microphone: tell the voices apart with models that ship in packages.

    speech (webrtcvad) -> pieces of at most MAX_PIECE_S -> voice embeddings (resemblyzer)
    -> Ward clustering -> one voice per word -> turns; roles from what each voice says

resemblyzer's voice encoder carries its weights inside the package. Its own
`preprocess_wav` trims silences, which shifts every timestamp, and its mel features go
through librosa, whose numba start-up costs seconds per process; so the encoder's
features are computed here, on pieces of the original 16 kHz signal.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations

import numpy as np

from trainer.errors import SpeakerError
from trainer.roles import assign_roles
from trainer.schema import Attribution, SpeakerTurn, Transcript, Word
from trainer.speakers import FRAME_S, SpeakerOptions, assign_words, runs_to_turns
from trainer.speech.audio import SAMPLE_RATE, Audio

FRAME = int(FRAME_S * SAMPLE_RATE)  # samples per VAD frame (webrtcvad takes 10, 20 or 30 ms)
VAD_MODE = 2  # webrtcvad aggressiveness, 0..3; word gaps then cut what it bridges
MIN_PAUSE_S = 0.2  # a pause this long ends a speech piece: turns change at pauses
MIN_WORD_GAP_S = 0.25  # a pause this long between recognised words cuts the speech there
WORD_GAP_MARGIN_S = 0.05  # word times are this unsure at each end of such a pause
MAX_PIECE_S = 1.6  # longer speech is cut into equal pieces (the encoder was trained on 1.6 s)
MIN_PIECE_S = 0.2  # shorter bursts are clicks and breaths, not speech
RELIABLE_PIECE_S = 0.8  # only pieces this long shape the voices; shorter ones just join one
MAX_SPEAKERS = 4  # more voices than this are not looked for
# Mean voices (cosine) of one speaker split in two measured 0.84 (jfk.flac) to 0.96 (espeak);
# of two speakers 0.56 to 0.68 (stereo_diarization.wav, the samples, jfk against either).
SAME_VOICE = 0.80  # expected voices this similar are one voice split in two
NEW_VOICE = 0.72  # a voice beyond those expected must be at most this similar to every other
MIN_VOICE_S = 4.0  # an extra voice must speak at least this long to be reported
TARGET_DBFS = -30.0  # each piece is brought to this level, as the encoder's training data was
# Mel features exactly as the encoder was trained on (resemblyzer.hparams).
MEL_N_FFT, MEL_HOP, MEL_BANDS = 400, 160, 40
MEL_PER_FRAME = FRAME // MEL_HOP  # mel frames per VAD frame
MEL_BLOCK = 6000  # mel frames computed at a time (one minute)
BUCKET_MEL = 10  # pieces are trimmed to a multiple of this many mel frames (0.1 s)


@functools.lru_cache(maxsize=1)
def load_encoder():  # noqa: ANN201 - resemblyzer.VoiceEncoder, imported lazily
    """The voice encoder, loaded once per process on the CPU."""
    try:
        from resemblyzer import VoiceEncoder
    except ImportError as e:
        raise SpeakerError(f"speaker diarization needs the resemblyzer package ({e})") from e
    return VoiceEncoder("cpu", verbose=False)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1000.0) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, hz * 3.0 / 200.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `_hz_to_mel`."""
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, mel * 200.0 / 3.0)


@functools.lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    """Slaney-normalised triangular filters, shape (bands, n_fft // 2 + 1)."""
    fft_hz = np.linspace(0, SAMPLE_RATE / 2, MEL_N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(SAMPLE_RATE / 2), MEL_BANDS + 2))
    ramps = edges[:, None] - fft_hz[None, :]
    widths = np.diff(edges)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(lower, upper))
    return (filters * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """Power mel spectrogram (frames, bands), 10 ms hop, frames centred as librosa does.

    Computed MEL_BLOCK frames at a time: the spectra of an hour at once would take gigabytes.
    """
    padded = np.pad(samples.astype(np.float32, copy=False), MEL_N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, MEL_N_FFT)[::MEL_HOP]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_N_FFT) / MEL_N_FFT)).astype(np.float32)
    filters = _mel_filters().T
    mel = np.empty((len(frames), MEL_BANDS), dtype=np.float32)
    for i in range(0, len(frames), MEL_BLOCK):
        mel[i : i + MEL_BLOCK] = np.abs(np.fft.rfft(frames[i : i + MEL_BLOCK] * window, axis=1)) ** 2 @ filters
    return mel


def speech_frames(samples: np.ndarray) -> np.ndarray:
    """Whether each FRAME_S frame holds speech, by webrtcvad."""
    import webrtcvad  # installed with resemblyzer; webrtcvad-wheels provides a prebuilt one

    n = len(samples) // FRAME
    peak = float(np.max(np.abs(samples[: n * FRAME]), initial=0.0))
    if peak == 0.0:
        return np.zeros(n, dtype=bool)
    # webrtcvad reads 16-bit PCM; bring quiet recordings up so its fixed thresholds apply.
    pcm = (samples[: n * FRAME] * (0.9 / peak) * 32767).astype("<i2").tobytes()
    vad = webrtcvad.Vad(VAD_MODE)
    step = FRAME * 2
    return np.array([vad.is_speech(pcm[i * step : (i + 1) * step], SAMPLE_RATE) for i in range(n)])


def cut_at_word_gaps(speech: np.ndarray, words: Sequence[Word]) -> np.ndarray:
    """Speech frames less the inside of pauses between words that the VAD bridged.

    webrtcvad holds on through short pauses, so a quick "Okay." and the other voice's
    answer can fall into one piece; the recogniser's word times show the pause.
    """
    speech = speech.copy()
    margin = WORD_GAP_MARGIN_S
    for before, after in zip(words, words[1:]):
        if after.start - before.end >= MIN_WORD_GAP_S:
            lo, hi = round((before.end + margin) / FRAME_S), round((after.start - margin) / FRAME_S)
            speech[lo:hi] = False
    return speech


def speech_pieces(speech: np.ndarray) -> list[tuple[int, int]]:
    """Speech as (first, end) frame ranges: cut at pauses, long stretches split evenly."""
    min_pause, max_len, min_len = (round(s / FRAME_S) for s in (MIN_PAUSE_S, MAX_PIECE_S, MIN_PIECE_S))
    flags = np.concatenate(([0], speech.astype(np.int8), [0]))
    starts = np.flatnonzero(np.diff(flags) == 1)
    ends = np.flatnonzero(np.diff(flags) == -1)
    regions: list[list[int]] = []
    for start, end in zip(starts, ends):
        if regions and start - regions[-1][1] < min_pause:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    pieces = []
    for start, end in regions:
        if end - start < min_len:
            continue
        n = -(-(end - start) // max_len)
        cuts = np.linspace(start, end, n + 1).round().astype(int)
        pieces.extend(zip(cuts[:-1].tolist(), cuts[1:].tolist()))
    return pieces


def embed_pieces(samples: np.ndarray, pieces: Sequence[tuple[int, int]]) -> np.ndarray:
    """One unit-length voice embedding per piece, shape (pieces, 256).

    Pieces are trimmed to a multiple of BUCKET_MEL frames so that equal lengths run as
    one batch: that ran about twice as fast on CPU as packed sequences of mixed lengths.
    """
    import torch

    mel = mel_spectrogram(samples)
    target = 10 ** (TARGET_DBFS / 10)  # mel is power: a gain g scales it by g squared
    features, lengths = [], []
    for start, end in pieces:
        n = max(BUCKET_MEL, (end - start) * MEL_PER_FRAME // BUCKET_MEL * BUCKET_MEL)
        first = start * MEL_PER_FRAME
        power = float(np.mean(samples[start * FRAME : end * FRAME] ** 2)) + 1e-10
        features.append(mel[first : first + n] * (target / power))
        lengths.append(n)
    encoder = load_encoder()
    embeddings = np.empty((len(pieces), 256), dtype=np.float32)
    threads = torch.get_num_threads()
    # One thread: on a busy 2-core machine this small LSTM ran 5x slower on two threads
    # than on one (the threads wait on each other at every one of its time steps).
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for n in set(lengths):
                rows = [i for i, length in enumerate(lengths) if length == n]
                batch = torch.from_numpy(np.stack([features[i] for i in rows]))
                embeddings[rows] = encoder(batch).numpy()
    finally:
        torch.set_num_threads(threads)
    return embeddings


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    means = np.stack([embeddings[labels == i].mean(axis=0) for i in range(k)])
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def cluster_voices(embeddings: np.ndarray, seconds: np.ndarray, expected: int) -> np.ndarray:
    """Voices as unit centroids, shape (voices, 256).

    Ward clustering of the reliable pieces with `expected` clusters; clusters that are
    really one voice merge, and more clusters are tried while each new one is a distinct
    voice that speaks at least MIN_VOICE_S.

    Args:
        embeddings: unit voice embeddings, one per piece.
        seconds: each piece's length; 0 for pieces that should not shape the voices.
        expected: voices the user expects.
    """
    from scipy.cluster.hierarchy import fcluster, linkage  # scipy loads in a tenth of sklearn's time

    # Long pieces heard as words if there are two, else any heard, else all.
    for reliable in (seconds >= RELIABLE_PIECE_S, seconds > 0, np.ones(len(seconds), dtype=bool)):
        if reliable.sum() >= 2:
            break
    points, weight = embeddings[reliable], seconds[reliable]
    tree = linkage(points, method="ward") if len(points) > 1 else None

    def fit(k: int) -> tuple[np.ndarray, np.ndarray] | None:
        if k > len(points):
            return None
        labels = np.zeros(len(points), dtype=int) if k == 1 else fcluster(tree, k, criterion="maxclust") - 1
        k = int(labels.max()) + 1
        return _centroids(points, labels, k), np.bincount(labels, weights=weight, minlength=k)

    def most_similar(fitted: tuple[np.ndarray, np.ndarray]) -> float:
        return max((float(a @ b) for a, b in combinations(fitted[0], 2)), default=0.0)

    k = max(1, min(expected, len(points)))
    fitted = fit(k)
    while k > 1 and most_similar(fitted) >= SAME_VOICE:
        k -= 1
        fitted = fit(k)
    while k < MAX_SPEAKERS:
        more = fit(k + 1)
        if more is None or most_similar(more) >= NEW_VOICE or more[1].min() < MIN_VOICE_S:
            break
        k, fitted = k + 1, more
    return fitted[0]


def heard_as_words(pieces: Sequence[tuple[int, int]], words: Sequence[Word]) -> np.ndarray:
    """Whether each piece overlaps a recognised word (words in time order)."""
    starts = np.array([w.start for w in words])
    latest_end = np.maximum.accumulate([w.end for w in words])
    piece_starts, piece_ends = (np.array(p, dtype=float) * FRAME_S for p in zip(*pieces))
    before = np.searchsorted(starts, piece_ends)  # words starting before each piece ends
    return (before > 0) & (latest_end[np.maximum(before - 1, 0)] > piece_starts)


def word_voices(words: Sequence[Word], pieces: Sequence[tuple[int, int]], scores: np.ndarray) -> np.ndarray:
    """Voice index per word: the voice its overlapping pieces resemble most."""
    starts = np.array([p[0] for p in pieces]) * FRAME_S
    ends = np.array([p[1] for p in pieces]) * FRAME_S
    voices = np.empty(len(words), dtype=int)
    for i, word in enumerate(words):
        overlap = np.minimum(ends, word.end) - np.maximum(starts, word.start)
        if overlap.max() > 0:
            voices[i] = int(np.argmax(np.clip(overlap, 0, None) @ scores))
        else:
            mid = (word.start + word.end) / 2
            voices[i] = int(np.argmax(scores[np.argmin(np.minimum(abs(starts - mid), abs(ends - mid)))]))
    return voices


def frame_labels(
    n_frames: int,
    pieces: Sequence[tuple[int, int]],
    piece_voices: np.ndarray,
    words: Sequence[Word],
    voices_of_words: np.ndarray,
) -> list[str | None]:
    """Speaker label per frame: pieces give the voice, and a word's span is its own voice,
    so turns change at word boundaries."""
    labels: list[str | None] = [None] * n_frames
    for (start, end), voice in zip(pieces, piece_voices):
        labels[start:end] = [f"S{voice}"] * (end - start)
    for word, voice in zip(words, voices_of_words):
        lo, hi = int(word.start / FRAME_S), min(n_frames, max(int(word.end / FRAME_S), int(word.start / FRAME_S) + 1))
        labels[lo:hi] = [f"S{voice}"] * (hi - lo)
    return labels


def _by_first_appearance(turns: Sequence[SpeakerTurn]) -> tuple[SpeakerTurn, ...]:
    """Rename voices S0, S1, ... in the order they are first heard."""
    names: dict[str, str] = {}
    return tuple(replace(t, speaker=names.setdefault(t.speaker, f"S{len(names)}")) for t in turns)


def diarize(samples: np.ndarray, words: Sequence[Word], expected: int = 2) -> tuple[SpeakerTurn, ...]:
    """Turns of each voice in a mono 16 kHz signal, labelled S0, S1, ... as first heard.

    Raises:
        SpeakerError: no speech was found to tell voices apart.
    """
    pieces = speech_pieces(cut_at_word_gaps(speech_frames(samples), words))
    if not pieces:
        raise SpeakerError("no speech found to tell voices apart")
    embeddings = embed_pieces(samples, pieces)
    seconds = np.array([(end - start) * FRAME_S for start, end in pieces])
    if words:  # only speech heard as words shapes the voices: not noise, coughs or laughter
        seconds = seconds * heard_as_words(pieces, words)
    scores = embeddings @ cluster_voices(embeddings, seconds, expected).T
    voices = word_voices(words, pieces, scores)
    labels = frame_labels(len(samples) // FRAME, pieces, scores.argmax(axis=1), words, voices)
    return _by_first_appearance(runs_to_turns(labels))


def attribute_mono(audio: Audio, transcript: Transcript, options: SpeakerOptions) -> Attribution:
    """Who spoke when in a single-microphone recording, and which voice is the counsellor's.

    Raises:
        SpeakerError: no speech was found to tell voices apart.
    """
    try:
        turns = diarize(audio.mono(), transcript.words, options.n_speakers)
    except SpeakerError as e:
        raise SpeakerError(f"{audio.source}: {e}") from e
    if not turns:
        raise SpeakerError(f"{audio.source}: no speech turns found")
    labels = assign_words(transcript.words, turns) if transcript.words else ()
    roles, confidence = assign_roles(transcript.words, labels, turns, swap=options.swap_roles)
    found = len(roles)
    warnings = []
    if found < options.n_speakers:
        warnings.append(f"only {found} voice(s) told apart where {options.n_speakers} were expected")
    elif found > options.n_speakers:
        warnings.append(f"{found} voices found where {options.n_speakers} were expected; the others count as client")
    return Attribution(
        turns=turns,
        roles=roles,
        method="diarization",
        role_confidence=confidence,
        n_speakers=found,
        warnings=tuple(warnings),
    )
