"""Regenerate the synthetic role-play recordings in ``sample_audio/`` from their scripts.

Each ``scripts/<name>.tsv`` (tab-separated ``speaker text code`` and an optional ``overlap``) is
spoken line by line with espeak-ng, one fixed voice per role, resampled to 16 kHz with sox,
laid out on a timeline with seeded pauses, and written as ``<name>.flac`` or ``<name>.opus``
together with ``<name>.ref.csv`` (``speaker,start,end,text,code``, times in exact seconds).

Needs only the Python standard library plus the ``espeak-ng`` and ``sox`` programs
(and ``ffmpeg`` for the Opus files). Output is deterministic for given tool versions.

Usage::

    python sample_audio/generate.py                      # all samples, next to this file
    python sample_audio/generate.py --only weak_mono     # one sample
    python sample_audio/generate.py --out /tmp/samples   # somewhere else
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS_DIR = HERE / "scripts"  # one role-play script per sample; .tsv so a folder scan never takes it as input
SAMPLE_RATE = 16000  # Hz, what the trainer's recogniser works at
LEAD_IN_S = 0.6  # silence before the first utterance
TAIL_S = 0.6  # silence after the last utterance
PAUSE_RANGE_S = (0.3, 1.2)  # pause between turns, drawn per sample from a seeded generator
PEAK_DB = -3.0  # every utterance is normalised to this peak level
BACKCHANNEL_PEAK_DB = -9.0  # overlapping backchannels ("mm hmm") are quieter
OPUS_BITRATE = {1: "24k", 2: "48k"}  # by channel count; stereo is two independent 24k streams
SPEAKERS = ("counsellor", "client")
CODES = ("open_question", "closed_question", "simple_reflection", "complex_reflection", "other")
REF_HEADER = ("speaker", "start", "end", "text", "code")
TRIM_DB = "-45d"  # leading and trailing audio below this level is cut from each spoken line
FFMPEG_REPRODUCIBLE = ("-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact")  # no version stamps


@dataclass(frozen=True)
class Voice:
    """espeak-ng settings for one role."""

    name: str  # espeak-ng voice and variant, e.g. "en-us+f2"
    speed: int  # words per minute
    pitch: int  # 0..99, espeak-ng's base pitch
    sox_effects: tuple[str, ...] = ()  # extra sox effects that shape the timbre


@dataclass(frozen=True)
class Layout:
    """How one sample is recorded and stored."""

    channels: int  # 1 = both roles mixed; 2 = counsellor left, client right
    fmt: str  # "flac" or "opus"


@dataclass(frozen=True)
class Line:
    """One line of a role-play script."""

    speaker: str  # "counsellor" or "client"
    text: str  # what is said
    code: str  # intended code for counsellor lines, "" for client lines
    overlap: float | None = None  # start at this fraction of the previous line (backchannel)


@dataclass(frozen=True)
class Placed:
    """A synthesised line placed on the sample's timeline."""

    line: Line
    wav: Path  # 16 kHz mono clip of just this line
    start: int  # first sample
    length: int  # samples

    @property
    def end(self) -> int:
        """Sample just after the clip."""
        return self.start + self.length


VOICES = {
    "counsellor": Voice("en-us+klatt6", speed=150, pitch=99, sox_effects=("highpass", "100")),
    "client": Voice("en-gb+m3", speed=155, pitch=25, sox_effects=("bass", "+3")),
}

SAMPLES = {
    "strong_stereo": Layout(channels=2, fmt="opus"),
    "weak_stereo": Layout(channels=2, fmt="opus"),
    "strong_mono": Layout(channels=1, fmt="opus"),
    "weak_mono": Layout(channels=1, fmt="flac"),
    "backchannel_mono": Layout(channels=1, fmt="opus"),
}


def run(*args: str) -> str:
    """Run a command and return its stdout; on failure, raise with the command's stderr."""
    done = subprocess.run(args, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])}... failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def read_script(path: Path) -> list[Line]:
    """Read and validate one role-play script."""
    lines = []
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=2):
            speaker, text, code = row["speaker"].strip(), row["text"].strip(), row["code"].strip()
            overlap = (row.get("overlap") or "").strip()
            if speaker not in SPEAKERS or not text:
                raise ValueError(f"{path.name}:{n}: bad speaker or empty text")
            if (speaker == "counsellor") != (code in CODES) or (speaker == "client" and code):
                raise ValueError(f"{path.name}:{n}: bad code {code!r} for {speaker}")
            lines.append(Line(speaker, text, code, float(overlap) if overlap else None))
    if not lines or lines[0].overlap is not None:
        raise ValueError(f"{path.name}: empty, or starts with an overlapping line")
    return lines


def n_samples(wav: Path) -> int:
    """Length of an audio file in samples, as sox reads it."""
    return int(run("soxi", "-s", str(wav)).strip())


def synthesise(line: Line, out: Path) -> Path:
    """Speak one line in its role's voice as a trimmed, normalised 16 kHz mono WAV."""
    voice = VOICES[line.speaker]
    raw = out.with_suffix(".raw.wav")
    run("espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), "-w", str(raw), line.text)
    peak = BACKCHANNEL_PEAK_DB if line.overlap is not None else PEAK_DB
    trim = ("silence", "1", "0.01", TRIM_DB, "reverse")  # drop silence at the start, then flip
    to_16k = ("-r", str(SAMPLE_RATE), "-c", "1", "-b", "16")
    run("sox", "-D", str(raw), *to_16k, str(out), *voice.sox_effects, *trim, *trim, "norm", str(peak))
    raw.unlink()
    return out


def place(lines: list[Line], wavs: list[Path], seed: str) -> list[Placed]:
    """Lay the clips out on one timeline: seeded pauses between turns, overlaps as scripted."""
    rng = random.Random(zlib.crc32(seed.encode()))
    placed: list[Placed] = []
    cursor = round(LEAD_IN_S * SAMPLE_RATE)
    for line, wav in zip(lines, wavs, strict=True):
        length = n_samples(wav)
        if line.overlap is not None:
            host = placed[-1]
            start = host.start + round(line.overlap * host.length)
        else:
            pause = 0.0 if not placed else rng.uniform(*PAUSE_RANGE_S)
            start = cursor + round(pause * SAMPLE_RATE)
        placed.append(Placed(line, wav, start, length))
        cursor = max(cursor, start + length)
    return placed


def track(clips: list[Placed], total: int, out: Path, tmp: Path) -> Path:
    """One speaker's mono track: their clips at their times, silence elsewhere."""
    parts: list[str] = []
    at = 0
    for i, clip in enumerate(sorted(clips, key=lambda c: c.start)):
        if clip.start < at:
            raise ValueError(f"{clip.line.speaker} overlaps their own previous line at sample {clip.start}")
        padded = tmp / f"{out.stem}_{i:03d}.wav"
        run("sox", str(clip.wav), str(padded), "pad", f"{clip.start - at}s")
        parts.append(str(padded))
        at = clip.end
    run("sox", *parts, str(out), "pad", "0", f"{total - at}s")
    return out


def encode(wav: Path, out: Path, layout: Layout) -> None:
    """Store the mixed WAV as FLAC (sox) or Opus (ffmpeg), without version stamps.

    Stereo Opus uses channel mapping family 255: each channel is its own uncoupled stream,
    so no speech leaks into the silent channel (ordinary coupled stereo leaks up to -40 dBFS).
    """
    if layout.fmt == "flac":
        run("sox", str(wav), "-C", "8", str(out))
    elif layout.fmt == "opus":
        streams = ("-mapping_family", "255") if layout.channels == 2 else ()
        opus = ("-c:a", "libopus", "-b:a", OPUS_BITRATE[layout.channels], "-application", "voip", *streams)
        run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), *FFMPEG_REPRODUCIBLE, *opus, str(out))
    else:
        raise ValueError(f"unknown format {layout.fmt!r}")


def write_reference(placed: list[Placed], out: Path) -> None:
    """Write ``speaker,start,end,text,code`` rows in order of start time."""
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(REF_HEADER)
        for p in sorted(placed, key=lambda p: p.start):
            writer.writerow(
                [p.line.speaker, f"{p.start / SAMPLE_RATE:.3f}", f"{p.end / SAMPLE_RATE:.3f}", p.line.text, p.line.code]
            )


def build(name: str, layout: Layout, out_dir: Path) -> tuple[Path, float]:
    """Build one sample's audio and reference file; return the audio path and its duration."""
    lines = read_script(SCRIPTS_DIR / f"{name}.tsv")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}_") as tmp_name:
        tmp = Path(tmp_name)
        wavs = [synthesise(line, tmp / f"line_{i:03d}.wav") for i, line in enumerate(lines)]
        placed = place(lines, wavs, seed=name)
        total = max(p.end for p in placed) + round(TAIL_S * SAMPLE_RATE)
        tracks = [track([p for p in placed if p.line.speaker == s], total, tmp / f"{s}.wav", tmp) for s in SPEAKERS]
        mixed = tmp / "mixed.wav"
        if layout.channels == 2:
            run("sox", "-M", *map(str, tracks), str(mixed))
        else:
            run("sox", "-m", "-v", "1", str(tracks[0]), "-v", "1", str(tracks[1]), str(mixed))
        audio = out_dir / f"{name}.{layout.fmt}"
        encode(mixed, audio, layout)
    write_reference(placed, out_dir / f"{name}.ref.csv")
    return audio, total / SAMPLE_RATE


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this script's folder)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(SAMPLES),
        metavar="NAME",
        help=f"build only these samples ({', '.join(SAMPLES)})",
    )
    args = parser.parse_args(argv)
    tools = ["espeak-ng", "sox", "soxi"]
    names = args.only or list(SAMPLES)
    if any(SAMPLES[n].fmt == "opus" for n in names):
        tools.append("ffmpeg")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        print(f"missing programs: {', '.join(missing)} (Debian: apt-get install espeak-ng sox ffmpeg)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        audio, seconds = build(name, SAMPLES[name], args.out)
        print(f"{audio.name}: {seconds:.1f} s, {audio.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
