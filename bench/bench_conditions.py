"""Who spoke when on real voices recorded worse: codecs, phone band, echo, quiet, noise.

Trainees record on laptops and phones, in rooms that hum. Each AMI excerpt with speech
(`audio/ami/`, truth in `train.rttm`; trn01 and trn02 hold no speech anyone hears) is
degraded one way at a time, decoded by the product's own loader, transcribed and
attributed with the default settings (as `bench_speakers.py` does for the excerpts as
recorded), and checked as `trainer score` checks it. Noise is added at a signal-to-noise
ratio measured over the reference's speech time, from a fixed seed, and sox runs with -R
(its dither repeatable), so the table repeats.

Per condition: how far speech stands above the background (what the noisy-recording
warning reads), how many excerpts the warning names, the right count of speakers heard
at least 2 s, mean and lowest attribution (pyannote.metrics, 0.25-s collar), and the
words recognised against the excerpts as recorded. Last, the counsellor talk share's
error pooled over every recording, clear and noisy apart, against the likely range
`trainer score` gives each (what `NOISY_TALK_SHARE_ERROR` is set from).

    .venv/bin/python bench/bench_conditions.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile
from bench_speakers import (
    TWO_PEOPLE,
    annotation,
    main_speakers,
    read_rttm,
    scores,
    stretches,
    taking_turns,
    talk_shares,
)
from pyannote.core import Annotation
from scipy.signal import lfilter

from trainer.errors import SpeakerError
from trainer.scoring.checks import check_audio
from trainer.scoring.intervals import NOISY_TALK_SHARE_ERROR, TALK_SHARE_ERROR, talk_share_error
from trainer.speakers import SpeakerOptions, attribute
from trainer.speech.audio import SAMPLE_RATE, Audio, load_audio
from trainer.speech.level import NOISY_DB, is_noisy, speech_over_background_db
from trainer.speech.transcribe import TranscribeOptions, transcribe

SILENT = ("trn01", "trn02")  # no speech heard in them at any level (README, speaker table)
SEED = 0
warnings.filterwarnings("ignore", message="'uem' was approximated")  # the whole excerpt is scored


def encoded(samples: np.ndarray, tool: list[str], suffix: str) -> Audio:
    """The samples written out, passed through ffmpeg or sox as `tool` says, and loaded back."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.wav", Path(folder) / f"out{suffix}"
        soundfile.write(source, samples, SAMPLE_RATE)
        command = [c.replace("IN", str(source)).replace("OUT", str(target)) for c in tool]
        subprocess.run(command, check=True, capture_output=True)
        return load_audio(target)


def ffmpeg(*options: str) -> list[str]:
    """An ffmpeg command from IN to OUT with these output options."""
    return ["ffmpeg", "-loglevel", "error", "-y", "-i", "IN", *options, "OUT"]


def speech_rms(samples: np.ndarray, ref: Annotation) -> float:
    """Root mean square of the samples over the reference's speech time."""
    mask = np.zeros(len(samples), dtype=bool)
    for segment in ref.get_timeline().support():
        mask[int(segment.start * SAMPLE_RATE) : int(segment.end * SAMPLE_RATE)] = True
    return float(np.sqrt(np.mean(np.square(samples[mask], dtype=np.float64))))


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white noise, or brown noise (a fan's or traffic's rumble: white noise integrated)."""
    x = rng.standard_normal(n)
    if kind == "brown":  # leaky, so it does not drift away: falls 6 dB per octave above about 13 Hz
        x = lfilter([1.0], [1.0, -0.995], x)
    return x / np.sqrt(np.mean(np.square(x)))


def with_noise(kind: str, snr_db: float) -> Callable[[np.ndarray, Annotation, int], Audio]:
    """A condition: noise of `kind` added `snr_db` below the speech."""

    def degrade(samples: np.ndarray, ref: Annotation, seed: int) -> Audio:
        level = speech_rms(samples, ref) / 10 ** (snr_db / 20)
        mixed = samples + level * noise(kind, len(samples), np.random.default_rng(seed))
        return Audio(np.clip(mixed, -1, 1).astype(np.float32)[None, :], source="")

    return degrade


def as_recorded(samples: np.ndarray, ref: Annotation, seed: int) -> Audio:
    """The excerpt untouched."""
    return Audio(samples[None, :], source="")


def through(tool: list[str], suffix: str) -> Callable[[np.ndarray, Annotation, int], Audio]:
    """A condition: the excerpt through a codec or effect."""
    return lambda samples, ref, seed: encoded(samples, tool, suffix)


def quieter(samples: np.ndarray, ref: Annotation, seed: int) -> Audio:
    """24 dB down: a microphone across the room."""
    return Audio((samples * 10 ** (-24 / 20)).astype(np.float32)[None, :], source="")


CONDITIONS: dict[str, Callable[[np.ndarray, Annotation, int], Audio]] = {
    "as recorded": as_recorded,
    "phone band (8 kHz)": through(ffmpeg("-ar", "8000"), ".wav"),
    "Opus 32 kbit/s": through(ffmpeg("-c:a", "libopus", "-b:a", "32k"), ".webm"),
    "Opus 16 kbit/s": through(ffmpeg("-c:a", "libopus", "-b:a", "16k"), ".webm"),
    "MP3 32 kbit/s": through(ffmpeg("-c:a", "libmp3lame", "-b:a", "32k"), ".mp3"),
    "24 dB quieter": quieter,
    "echo (sox reverb 50 50 80)": through(["sox", "-R", "IN", "OUT", "reverb", "50", "50", "80"], ".wav"),
    "white noise, 25 dB below speech": with_noise("white", 25),
    "white noise, 20 dB below speech": with_noise("white", 20),
    "white noise, 15 dB below speech": with_noise("white", 15),
    "white noise, 10 dB below speech": with_noise("white", 10),
    "brown noise, 10 dB below speech": with_noise("brown", 10),
    "brown noise, 5 dB below speech": with_noise("brown", 5),
}


def attributed(audio: Audio, ref: Annotation) -> tuple[int, float, int, list[float]]:
    """Voices found, attribution, words recognised, and the counsellor talk share's error with
    each main speaker taken as the counsellor, as `trainer score` attributes them."""
    transcript = transcribe(audio.mono(), TranscribeOptions())
    try:
        result = attribute(audio, transcript, "diarization", SpeakerOptions())
    except SpeakerError:  # no speech found: no voices, nothing attributed
        return 0, scores(ref, Annotation())[1], len(transcript.words), []
    errors = [abs(true - found) for _, true, found in talk_shares(result, ref)]
    return result.n_speakers, scores(ref, annotation(result.turns))[1], len(transcript.words), errors


# Per speaker taken as the counsellor: how far speech stood above the background, and the share's error.
Errors = list[tuple[float | None, float]]


def held(errors: Errors) -> float:
    """How often the range `trainer score` gives (its width depends on the level) holds the true share."""
    return float(np.mean([error <= (talk_share_error("diarization", level) or 0.0) for level, error in errors]))


def share_errors(errors: Errors) -> str:
    """80th percentile of the talk share errors, and how often the range given holds the truth."""
    if not errors:
        return "-"
    return f"{np.quantile([e for _, e in errors], 0.8):.2f} ({held(errors):.0%})"


def warned(audio: Audio, level: float | None) -> bool:
    """Whether `trainer score` warns that the recording is noisy."""
    return any(w.startswith("noisy recording") for w in check_audio(audio, level))


def range_table(errors: Errors) -> None:
    """The talk share's error over all recordings, clear and noisy apart, against the ranges."""
    print("\nCounsellor talk share error, every recording above pooled (each main speaker as the counsellor)\n")
    widths = sorted({TALK_SHARE_ERROR["diarization"], NOISY_TALK_SHARE_ERROR, 0.25, 0.30})
    heads = ["recordings", "speakers", "median", "80th percentile", "range given holds"]
    heads += [f"+-{w:.2f} holds" for w in widths]
    print("| " + " | ".join(heads) + " |\n|" + " --- |" * len(heads))
    groups = {f"clear ({NOISY_DB:.0f} dB or more)": False, f"noisy (under {NOISY_DB:.0f} dB, warned)": True}
    for name, noisy in groups.items():
        rows = [(level, e) for level, e in errors if is_noisy(level) == noisy]
        if not rows:
            continue
        values = np.array([e for _, e in rows])
        cells = [name, len(rows), f"{np.median(values):.3f}", f"{np.quantile(values, 0.8):.3f}"]
        cells += [f"{held(rows):.0%}", *(f"{np.mean(values <= w):.0%}" for w in widths)]
        print("| " + " | ".join(map(str, cells)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    folder = args.data / "audio" / "ami"
    truth = {clip: ref for clip, ref in read_rttm(folder / "train.rttm").items() if clip not in SILENT}
    clean = {clip: load_audio(folder / f"{clip}.wav").mono() for clip in sorted(truth)}
    print(f"{len(clean)} AMI excerpts ({', '.join(clean)}); warning below {NOISY_DB:.0f} dB\n")
    print(
        "| condition | speech over background (dB) | warned | right count (>= 2 s) | attribution, mean | "
        "lowest | words, against as recorded | talk share error, 80th percentile (range holds) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    words_as_recorded: dict[str, int] = {}
    counts: dict[str, list[int]] = {}
    pooled: Errors = []
    for name, degrade in CONDITIONS.items():
        gaps, named, right, attributions, words, errors = [], 0, 0, {}, 0, []
        for seed, (clip, samples) in enumerate(clean.items(), start=SEED):
            audio = degrade(samples, truth[clip], seed)
            level = speech_over_background_db(audio)
            gaps.append(level or 0.0)
            named += warned(audio, level)
            found, attributions[clip], n_words, clip_errors = attributed(audio, truth[clip])
            errors += [(level, e) for e in clip_errors]
            right += found == main_speakers(truth[clip])
            counts.setdefault(name, []).append(found)
            words_as_recorded.setdefault(clip, n_words)
            words += n_words
        lowest = min(attributions, key=attributions.__getitem__)
        print(
            f"| {name} | {min(gaps):.0f}-{max(gaps):.0f} | {named} of {len(clean)} | {right} of {len(clean)} | "
            f"{np.mean(list(attributions.values())):.3f} | {attributions[lowest]:.3f} ({lowest}) | "
            f"{words / sum(words_as_recorded.values()):.2f} | {share_errors(errors)} |",
            flush=True,
        )
        pooled += errors
    print("\nVoices found in each excerpt (speakers heard >= 2 s in brackets)\n")
    print("| condition | " + " | ".join(f"{c} ({main_speakers(truth[c])})" for c in clean) + " |")
    print("| --- |" + " --- |" * len(clean))
    for name, found in counts.items():
        print(f"| {name} | " + " | ".join(map(str, found)) + " |")
    pooled += two_people(args.data, read_rttm(folder / "train.rttm"))
    range_table(pooled)


def two_people(data: Path, truth: dict[str, Annotation]) -> Errors:
    """The trainee's case: two real people taking turns (each one's stretches alone, in order).

    Returns each speaker's talk share error with the recording's level, for the pooled table.
    """
    conversations = {}
    for first, theirs, second, seconds in TWO_PEOPLE:
        alone = (stretches(data, truth, first, theirs), stretches(data, truth, second, seconds))
        conversations[f"{first}+{second}"] = taking_turns(alone, (first, second))
    print(
        "\nTwo real people taking turns (voices found, attribution, largest talk share error; "
        "speech over background in dB)\n"
    )
    heads = [f"{name} ({len(samples) / SAMPLE_RATE:.0f} s)" for name, (samples, _) in conversations.items()]
    print("| condition | " + " | ".join(heads) + " |")
    print("| --- |" + " --- |" * len(conversations))
    pooled: Errors = []
    for name, degrade in CONDITIONS.items():
        cells = []
        for samples, ref in conversations.values():
            audio = degrade(samples, ref, SEED)
            found, attribution, _, errors = attributed(audio, ref)
            level = speech_over_background_db(audio)
            note = " (warned)" if warned(audio, level) else ""
            cells.append(f"{found}, {attribution:.3f}, {max(errors, default=1.0):.2f}; {level or 0.0:.0f}{note}")
            pooled += [(level, e) for e in errors]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return pooled


if __name__ == "__main__":
    main()
