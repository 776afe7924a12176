"""Stage 2: speech to words with times, locally, with one of two Whisper backends.

`faster-whisper` (the default) runs CTranslate2 weights, int8 on CPU. `openai-whisper`
(optional extra) runs the original PyTorch code, for institutions that standardised
on it. Both return the same `Transcript`, so later stages do not care which ran.
The default model, `tiny.en`, is installed as a package: no network is needed.
Which models exist and where their weights lie is `trainer.speech.whisper_models`' business.
"""

from __future__ import annotations

import functools
import logging
import pickle
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from trainer.errors import ModelNotAvailable
from trainer.schema import Transcript, Word
from trainer.speech.audio import SAMPLE_RATE, VAD_THRESHOLD, raised_if_quiet
from trainer.speech.whisper_models import describe_available, resolve_checkpoint, resolve_ct2
from trainer.threads import torch_threads
from trainer.vocabulary import LANGUAGE

DEFAULT_MODEL = "tiny.en"
BACKENDS = ("faster-whisper", "openai-whisper")
OPENAI_INSTALL = 'pip install --no-deps "openai-whisper>=20250625" && pip install tiktoken more-itertools numba tqdm'

log = logging.getLogger("trainer")
# Decoding temperature, with no fallback to higher ones. Whisper's default retries a window
# whose text repeats itself or scores low by sampling at 0.2-1.0, which draws random numbers:
# jfk.flac three times over gave "and so my fellow" or "and so am I fellow" from one run to
# the next. Without the fallback the same audio always gives the same words.
TEMPERATURE = 0.0


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe; every default is chosen for a 2-core laptop."""

    model: str = DEFAULT_MODEL  # bundled name, local model directory or .pt file, or downloadable name
    backend: str = "faster-whisper"  # one of BACKENDS
    compute_type: str = "int8"  # CTranslate2 quantisation (faster-whisper only); int8 is fastest on CPU
    cpu_threads: int = 2  # threads per model (for openai-whisper: torch's threads while it runs)
    beam_size: int = 5  # Whisper's default; 1 is faster and a little less accurate
    vad_filter: bool = True  # skip silence with Silero VAD (ships with faster-whisper), both backends
    # Silero's speech probability from which audio is transcribed, as diarization hears it:
    # with faster-whisper's own 0.5 the AMI excerpts had the right number of voices on 8 of
    # 10, with 0.3 on 9 (same attribution); 0.2 for both let noise in (7 of 10).
    vad_threshold: float = VAD_THRESHOLD
    language: str | None = None  # None lets multilingual models detect it
    initial_prompt: str | None = None  # text in the style and words of the recording, to steer the decoder
    hotwords: str | None = None  # words likely to occur (names, drugs, local terms), put before the prompt


def resolve_model(name: str) -> str:
    """Turn a model name or path into what faster-whisper's WhisperModel should load.

    Raises:
        ModelNotAvailable: unknown name, missing package, or a path without a model.
    """
    return resolve_ct2(name)


@functools.lru_cache(maxsize=2)
def load_model(name: str, compute_type: str = "int8", cpu_threads: int = 2):  # noqa: ANN201
    """Load (once per process) a faster-whisper model by name or path."""
    from faster_whisper import WhisperModel

    target = resolve_model(name)
    try:
        return WhisperModel(target, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)
    except Exception as e:  # hub errors come in many types; all mean "not available here"
        raise ModelNotAvailable(
            f"model {name!r} could not be loaded ({e.__class__.__name__}); {describe_available()}"
        ) from e


@functools.lru_cache(maxsize=2)
def load_openai_model(name: str):  # noqa: ANN201
    """Load (once per process) an openai-whisper model, with alignment heads for word times.

    Raises:
        ModelNotAvailable: openai-whisper is not installed, or the model cannot be found.
    """
    try:
        import torch
        import whisper
    except ImportError as e:
        raise ModelNotAvailable(f"the openai-whisper backend is not installed: {OPENAI_INSTALL}") from e
    checkpoint = resolve_checkpoint(name)
    try:
        model = whisper.load_model(checkpoint, device="cpu")
        if checkpoint.endswith(".pt"):
            # openai-whisper sets alignment heads only for its official names; converted
            # checkpoints carry them beside the weights (see trainer.speech.convert).
            heads = torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=True).get("alignment_heads")
            if heads:
                model.set_alignment_heads(heads)
    except (RuntimeError, OSError, KeyError, ValueError, pickle.UnpicklingError) as e:  # downloads, damaged files
        raise ModelNotAvailable(
            f"model {name!r} could not be loaded ({e.__class__.__name__}); {describe_available('openai-whisper')}"
        ) from e
    return model


def _faster_whisper_words(samples: np.ndarray, options: TranscribeOptions) -> tuple[Iterator[Word], str]:
    """Words from faster-whisper, which applies the VAD and restores times itself."""
    model = load_model(options.model, options.compute_type, options.cpu_threads)
    segments, info = model.transcribe(
        samples,
        beam_size=options.beam_size,
        word_timestamps=True,
        vad_filter=options.vad_filter,
        vad_parameters={"threshold": options.vad_threshold},
        language=options.language,
        initial_prompt=options.initial_prompt,
        hotwords=options.hotwords,
        condition_on_previous_text=False,  # stops one misheard phrase repeating for minutes
        temperature=TEMPERATURE,
    )
    words = (Word(w.start, w.end, w.word, w.probability) for s in segments for w in (s.words or ()))
    return words, info.language


def _openai_whisper_words(samples: np.ndarray, options: TranscribeOptions) -> tuple[Iterator[Word], str]:
    """Words from openai-whisper, on speech only when the VAD is on, times mapped back."""
    from faster_whisper.vad import SpeechTimestampsMap, VadOptions, collect_chunks, get_speech_timestamps

    model = load_openai_model(options.model)
    timeline = None
    if options.vad_filter:
        # The same VAD as faster-whisper, so the two backends hear the same audio.
        chunks = get_speech_timestamps(samples, VadOptions(threshold=options.vad_threshold))
        if not chunks:
            return iter(()), options.language or LANGUAGE
        samples = np.concatenate(collect_chunks(samples, chunks)[0])
        timeline = SpeechTimestampsMap(chunks, SAMPLE_RATE)
    # faster-whisper puts hotwords before the prompt; this does the same for openai-whisper.
    prompt = " ".join(p for p in (options.hotwords, options.initial_prompt) if p) or None
    with torch_threads(options.cpu_threads):
        result = model.transcribe(
            samples,
            beam_size=options.beam_size,
            word_timestamps=True,
            language=options.language,
            initial_prompt=prompt,
            condition_on_previous_text=False,
            temperature=TEMPERATURE,
            fp16=False,  # CPU
            verbose=None,
        )
    words = (
        _restore(Word(w["start"], w["end"], w["word"], w["probability"]), timeline)
        for s in result["segments"]
        for w in s.get("words", ())
    )
    return words, result["language"]


def _restore(word: Word, timeline) -> Word:  # noqa: ANN001 - faster_whisper.vad.SpeechTimestampsMap
    """Times in the original recording for a word found in speech-only audio."""
    if timeline is None:
        return word
    chunk = timeline.get_chunk_index((word.start + word.end) / 2)
    return Word(
        timeline.get_original_time(word.start, chunk),
        timeline.get_original_time(word.end, chunk),
        word.text,
        word.probability,
    )


def transcribe(
    samples: np.ndarray, options: TranscribeOptions = TranscribeOptions(), speaker: str | None = None
) -> Transcript:
    """Transcribe mono 16 kHz samples into words with start and end times.

    Args:
        samples: float32 mono audio at SAMPLE_RATE.
        options: model, backend and decoding settings.
        speaker: label to give every word, when the signal is known to hold one voice.

    Raises:
        ModelNotAvailable: the backend or the model is not installed here.
    """
    samples = raised_if_quiet(samples)  # a quiet recording is heard as a loud one; times are unchanged
    if options.backend == "openai-whisper":
        found, language = _openai_whisper_words(samples, options)
        model = f"openai-whisper:{options.model}"
    elif options.backend == "faster-whisper":
        found, language = _faster_whisper_words(samples, options)
        model = options.model
    else:
        raise ModelNotAvailable(f"unknown backend {options.backend!r}; choose one of {', '.join(BACKENDS)}")
    words = tuple(
        Word(float(w.start), float(w.end), w.text.strip(), float(w.probability), speaker)
        for w in found
        if w.text.strip()
    )
    return Transcript(words=words, duration_s=len(samples) / SAMPLE_RATE, language=language, model=model)


def transcribe_channels(
    channels: dict[str, np.ndarray], options: TranscribeOptions = TranscribeOptions()
) -> Transcript:
    """Transcribe each channel on its own and merge the words in time order.

    One voice per channel means overlapping speech is not lost, as it would be in a
    mix, and every word already knows its speaker. The session's language is English only
    if every channel with words was heard as English: the coder cannot read a session in
    which either person speaks another language, and a multilingual model sometimes takes
    one voice of a German role play for English.
    """
    parts = [transcribe(samples, options, speaker=label) for label, samples in channels.items()]
    words = tuple(sorted((w for p in parts for w in p.words), key=lambda w: (w.start, w.end)))
    other = [p for p in parts if p.words and p.language != LANGUAGE]
    language = max(other, key=lambda p: len(p.words)).language if other else parts[0].language
    return Transcript(words, max(p.duration_s for p in parts), language, parts[0].model)
