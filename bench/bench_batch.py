"""Batch throughput and memory: audio-seconds scored per wall-second at N workers, peak RSS.

Each run is a fresh `trainer score ... --workers N` (so nothing is skipped as already
scored), timed from start to exit: process start, model loading and every stage are
included. Memory is the resident set of the whole process tree, sampled every 0.1 s;
CPU time (all processes, user + system) shows the cost when the machine is shared.

    .venv/bin/python bench/bench_batch.py                    # N = 1 and 2 on the samples
    .venv/bin/python bench/bench_batch.py --workers 1 2 4 --inputs my_folder
    .venv/bin/python bench/bench_batch.py --long             # a 2-hour recording, N = 1

The samples are sample_audio/'s recordings, generated into a temporary folder when
they are not there. `--long` repeats a stereo sample to `--hours` with ffmpeg, in /tmp.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from trainer.speech.audio import AUDIO_EXTENSIONS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_audio"
LONG_SOURCE = "strong_stereo"  # sample repeated into the long recording: two voices, one per channel


@dataclass(frozen=True)
class Run:
    """One timed batch."""

    workers: int
    audio_s: float  # seconds of audio in inputs that were scored
    wall_s: float
    cpu_s: float  # user + system time of all its processes
    peak_total_mb: float  # all processes of the run together
    peak_process_mb: float  # the largest single process
    failed: int


def audio_inputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)


def samples(scratch: Path) -> list[Path]:
    """The sample recordings, generated into scratch when sample_audio/ has none."""
    found = audio_inputs(SAMPLES) if SAMPLES.is_dir() else []
    if found:
        return found
    subprocess.run([sys.executable, str(SAMPLES / "generate.py"), "--out", str(scratch)], check=True)
    return audio_inputs(scratch)


def long_recording(source: Path, hours: float) -> Path:
    """`source` repeated to `hours` as 16 kHz FLAC in the temp folder (made once, then reused)."""
    target = Path(tempfile.gettempdir()) / f"trainer-bench-{source.stem}-{hours:g}h.flac"
    if not target.is_file():
        partial = target.with_suffix(".part.flac")
        loops = str(int(hours * 3600 / probe_duration(source)) + 1)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", loops, "-i", str(source)]
            + ["-t", str(hours * 3600), "-ar", "16000", "-c:a", "flac", str(partial)],
            check=True,
        )
        partial.rename(target)
    return target


def probe_duration(path: Path) -> float:
    """Length in seconds, as the file's header declares it."""
    import av

    with av.open(str(path)) as container:
        return container.duration / 1e6


def measure(inputs: list[Path], workers: int, extra: list[str]) -> Run:
    """Score inputs in a fresh output folder, sampling the memory of every process involved."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-c", "from trainer.cli import main; main()", "score", *map(str, inputs)]
        command += ["--out", out, "--workers", str(workers), *extra]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        run = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        parent = psutil.Process(run.pid)
        peak_total = peak_process = 0
        while run.poll() is None:
            try:
                sizes = [p.memory_info().rss for p in [parent, *parent.children(recursive=True)]]
            except psutil.Error:
                sizes = []
            peak_total, peak_process = max(peak_total, sum(sizes)), max(peak_process, *sizes, 0)
            time.sleep(0.1)
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(Path(out) / "summary.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    scored = [r for r in rows if r["status"] == "ok"]
    return Run(
        workers,
        sum(float(r["duration_s"]) for r in scored),
        wall,
        cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
        peak_total / 2**20,
        peak_process / 2**20,
        len(rows) - len(scored),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time")
    parser.add_argument("--inputs", type=Path, help="folder of recordings (default: the samples)")
    parser.add_argument("--long", action="store_true", help="score one long recording instead")
    parser.add_argument("--hours", type=float, default=2.0, help="length of the long recording")
    parser.add_argument("trainer_args", nargs="*", help="more `trainer score` options, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        inputs = audio_inputs(args.inputs) if args.inputs else samples(Path(scratch))
        if args.long:
            source = next((p for p in inputs if p.stem == LONG_SOURCE), inputs[0])
            inputs, args.workers = [long_recording(source, args.hours)], [1]
        print(f"{len(inputs)} recording(s); {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        print(
            "| workers | audio s | wall s | audio s per wall s | CPU s | audio s per CPU s "
            "| peak RSS all processes | largest process | failed |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for n in args.workers:
            r = measure(inputs, n, args.trainer_args)
            print(
                f"| {r.workers} | {r.audio_s:.0f} | {r.wall_s:.1f} | {r.audio_s / r.wall_s:.1f} | "
                f"{r.cpu_s:.0f} | {r.audio_s / r.cpu_s:.1f} | "
                f"{r.peak_total_mb:.0f} MB | {r.peak_process_mb:.0f} MB | {r.failed} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
