"""Coding speed of the trained coder on real AnnoMI conversations.

Usage:
    python bench/bench_coder.py [--threads 2] [--repeat 3]

Prints utterances per second (wall clock and per CPU second) for whole conversations
passed to ``MICoder.code``, the way ``trainer score`` calls it. Model loading is timed
separately: it happens once per process. Then the CPU time per conversation of what
follows coding: the metrics with their likely ranges (Monte Carlo draws) and the
MI-quality estimate.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Time the coder on the development transcripts and print the throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target laptop has 2 cores)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the conversations; the best counts")
    parser.add_argument("--transcripts", type=int, default=20, help="how many development transcripts to code")
    args = parser.parse_args()

    import torch

    from trainer.coding.mi_coder import MICoder
    from trainer.scoring.metrics import compute_metrics
    from trainer.scoring.quality import estimate_quality
    from trainer.training.annomi import load_annomi

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    coder = MICoder.load()
    load_s = time.perf_counter() - started
    conversations = [t.plain for t in load_annomi()[: args.transcripts]]
    n = sum(len(c) for c in conversations)
    coder.code(conversations[0][:20])  # warm-up: first call allocates
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for conversation in conversations:
            coder.code(conversation)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    coded = [coder.code(conversation) for conversation in conversations]
    cpu = time.process_time()
    for session in coded:
        compute_metrics(session)
        estimate_quality(session)
    ranges_ms = (time.process_time() - cpu) / len(coded) * 1000
    print(f"model load: {load_s:.1f} s")
    print(f"{n} utterances in {len(conversations)} conversations, {args.threads} threads")
    print(f"wall: {n / best_wall:.0f} utterances/s ({best_wall:.2f} s)")
    print(
        f"cpu:  {n / best_cpu:.0f} utterances per CPU-second ({best_cpu:.2f} s), load average {os.getloadavg()[0]:.1f}"
    )
    print(f"metrics with ranges + quality estimate: {ranges_ms:.0f} CPU-ms per conversation")


if __name__ == "__main__":
    main()
