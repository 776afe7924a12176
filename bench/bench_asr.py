"""Word error rate and speed of each transcription model and backend, side by side.

Every configuration transcribes the same clips in one run: the real recordings in
tests/data (jfk.flac; each channel of stereo_diarization.wav; another folder with those two
files with --data) and every
sample recording with a `<stem>.ref.csv` reference. Stereo recordings with one voice
per channel are transcribed per channel, as the pipeline does, and scored against
each speaker's words (whichever assignment of speakers to channels fits better, since
attribution is not what is measured here). Prints a markdown table.

    .venv/bin/python bench/bench_asr.py [--samples sample_audio] [--data tests/data]
        [--configs tiny.en/faster-whisper/int8 ...]

WER counts substitutions, deletions and insertions over all reference words, after
lower-casing and removing punctuation. RTF is wall-clock seconds per second of audio
(below 1 is faster than real time); CPU is processor seconds per second of audio, which
stays meaningful when other programs share the machine. Loading (and, for openai-whisper,
the one-off conversion of the weights) is timed apart, then each configuration warms up
on a short clip so compilation on first use does not count against the first clip.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.batch.runner import find_inputs
from trainer.pipeline import is_transcript
from trainer.schema import Role, Transcript
from trainer.speech.audio import SAMPLE_RATE, load_audio
from trainer.speech.transcribe import TranscribeOptions, load_model, load_openai_model, transcribe
from trainer.speech.transcript_files import read_transcript
from trainer.training.reference import reference_path

AUDIO = Path(__file__).resolve().parents[1] / "tests" / "data"
JFK = "And so, my fellow Americans, ask not what your country can do for you; ask what you can do for your country."
LEFT = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
RIGHT = "The horizon seems extremely distant."
DEFAULT_CONFIGS = (
    "tiny.en/faster-whisper/int8",
    "tiny.en/faster-whisper/float32",
    "tiny.en/openai-whisper/float32",
    "base/faster-whisper/int8",
    "base/faster-whisper/float32",
    "base/openai-whisper/float32",
)


@dataclass(frozen=True)
class Clip:
    """One recording to transcribe, a channel at a time, and what was said on each channel."""

    name: str
    channels: dict[str, np.ndarray]  # "mono" for a mix, or "left" and "right" with one voice each
    # Candidate references, channel -> text; the closest counts (which voice is on which
    # channel is attribution's business, not recognition's).
    references: tuple[dict[str, str], ...]
    real: bool  # a real recording, rather than a synthetic sample

    @property
    def duration_s(self) -> float:
        return sum(len(c) for c in self.channels.values()) / SAMPLE_RATE


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, apostrophes kept."""
    return re.sub(r"[^\w' ]", " ", text.lower()).split()


def text_of(transcript: Transcript) -> str:
    """The recognised words as one string."""
    return " ".join(w.text for w in transcript.words)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp))
    return row[-1]


def clips(samples: Path | None, data: Path) -> list[Clip]:
    """The real clips, then every sample recording that has a reference."""
    missing = [name for name in ("jfk.flac", "stereo_diarization.wav") if not (data / name).is_file()]
    if missing:
        raise SystemExit(f"{data}: {' and '.join(missing)} not found; pass --data with a folder that has them")
    jfk, stereo = load_audio(data / "jfk.flac"), load_audio(data / "stereo_diarization.wav")
    split = {"left": stereo.samples[0], "right": stereo.samples[1]}
    found = [
        Clip("jfk", {"mono": jfk.mono()}, ({"mono": JFK},), real=True),
        Clip("stereo", split, ({"left": LEFT, "right": RIGHT},), real=True),
    ]
    for path in find_inputs([samples]) if samples and samples.is_dir() else []:
        ref = reference_path(path)
        if is_transcript(path) or not ref.is_file():
            continue
        audio = load_audio(path)
        said = read_transcript(ref).utterances
        if audio.channels_differ():  # transcribed per channel, as the pipeline does
            channels = {"left": audio.samples[0], "right": audio.samples[1]}
            counsellor = " ".join(u.text for u in said if u.speaker is Role.COUNSELLOR)
            client = " ".join(u.text for u in said if u.speaker is Role.CLIENT)
            references = ({"left": counsellor, "right": client}, {"left": client, "right": counsellor})
        else:
            channels, references = {"mono": audio.mono()}, ({"mono": " ".join(u.text for u in said)},)
        found.append(Clip(path.name, channels, references, real=False))
    return found


def run(config: str, clips_: list[Clip], threads: int) -> dict[str, str]:
    """Transcribe every clip with one configuration; return its table row."""
    model, backend, compute_type = config.split("/")
    options = TranscribeOptions(model=model, backend=backend, compute_type=compute_type, cpu_threads=threads)
    started = time.perf_counter()
    if backend == "openai-whisper":
        load_openai_model(model)
    else:
        load_model(model, compute_type, threads)
    load_s = time.perf_counter() - started
    transcribe(next(iter(clips_[0].channels.values()))[: 3 * SAMPLE_RATE], options)  # warm-up
    errors = {True: [0, 0], False: [0, 0]}  # real? -> [edits, reference words]
    wall = cpu = audio_s = 0.0
    for clip in clips_:
        started, cpu_started = time.perf_counter(), time.process_time()
        heard = {name: words(text_of(transcribe(signal, options))) for name, signal in clip.channels.items()}
        wall += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        audio_s += clip.duration_s
        edits = min(sum(edit_distance(words(r[name]), heard[name]) for name in heard) for r in clip.references)
        errors[clip.real][0] += edits
        errors[clip.real][1] += sum(len(words(text)) for text in clip.references[0].values())

    def wer(real: bool) -> str:
        edits, total = errors[real]
        return f"{edits / total:.1%}" if total else "-"

    return {
        "model": model,
        "backend": backend,
        "compute": compute_type if backend == "faster-whisper" else "float32 (torch)",
        "WER real clips": wer(True),
        "WER samples": wer(False),
        "RTF": f"{wall / audio_s:.2f}",
        "CPU s per audio s": f"{cpu / audio_s:.2f}",
        "load s": f"{load_s:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=Path("sample_audio"), help="folder of samples with references")
    parser.add_argument("--data", type=Path, default=AUDIO, help="folder with jfk.flac and stereo_diarization.wav")
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="model/backend/compute_type")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per model")
    args = parser.parse_args()
    clips_ = clips(args.samples, args.data)
    total = sum(c.duration_s for c in clips_)
    real = sum(c.real for c in clips_)
    print(f"{len(clips_)} clips ({real} real, {len(clips_) - real} samples), {total:.0f} s of audio, ", end="")
    print(f"{args.threads} threads, load average {os.getloadavg()[0]:.1f}\n")
    for i, config in enumerate(args.configs):
        row = run(config, clips_, args.threads)
        if i == 0:
            print("| " + " | ".join(row) + " |")
            print("|" + " --- |" * len(row))
        print("| " + " | ".join(row.values()) + " |", flush=True)


if __name__ == "__main__":
    main()
