"""Diarization alone on a long single-microphone recording: voices, CPU and peak memory.

A sample is looped to the length asked (default 2 hours) and diarized from the audio alone
(VAD, CAM++ and clustering, no transcription), so the speaker stage's own cost on a long
file is seen apart from Whisper's.

    .venv/bin/python bench/bench_diarize_hours.py [--hours 2] [--sample sample_audio/strong_mono.opus]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from trainer.speakers.diarize import diarize
from trainer.speech.audio import SAMPLE_RATE, load_audio


def peak_mb() -> int:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--sample", default="sample_audio/strong_mono.opus")
    args = parser.parse_args()
    one = load_audio(args.sample).mono()
    n = int(args.hours * 3600 * SAMPLE_RATE)
    samples = np.tile(one, int(np.ceil(n / len(one))))[:n]
    print(f"{args.hours:g} h of {args.sample}; peak RSS with the recording loaded: {peak_mb()} MB", flush=True)
    started = time.process_time()
    voices = diarize(samples)
    cpu = time.process_time() - started
    print(
        f"voices {len(voices.centroids)}, {cpu:.1f} CPU s ({cpu / (args.hours * 60):.2f} per audio minute), "
        f"peak RSS {peak_mb()} MB"
    )


if __name__ == "__main__":
    main()
