"""Lookup time of the expert examples shown on the feedback page.

Usage:
    python bench/bench_examples.py [--queries N]

Each query is a client turn from a low-quality AnnoMI session (none of them is in the
index, which holds only high-quality sessions), looked up the way the feedback page does:
one encoder call for the turn, then cosine against the whole index. Prints milliseconds per
example (median and 95th percentile, wall clock and CPU; the encoder runs on one thread), the index load time, and the
load average, since a busy machine stretches wall-clock times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    """Time one lookup per client turn and print the distribution."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=None, help="client turns to look up [default: all 127]")
    args = parser.parse_args()

    from trainer.schema import Role
    from trainer.scoring.examples import EXPERT_CODES, embed, load_index
    from trainer.training.annomi import load_annomi

    started = time.perf_counter()
    index = load_index()
    embed(["warm-up"])  # loads the encoder, which the coder has loaded already in the app
    load_s = time.perf_counter() - started
    turns = [
        u.utterance.text
        for t in load_annomi()
        if t.mi_quality == "low"
        for u in t.utterances
        if u.utterance.speaker is Role.CLIENT and len(u.utterance.text.split()) >= 4
    ][: args.queries]
    wall, cpu = [], []
    for turn in turns:
        w, c = time.perf_counter(), time.process_time()
        index.lookup([turn], EXPERT_CODES)
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    print(f"index: {len(index.rows)} examples; index and encoder loaded in {load_s:.1f} s")
    print(f"{len(turns)} lookups, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"wall ms/example: median {statistics.median(wall):.1f}, p95 {p95(wall):.1f}")
    print(f"CPU ms/example:  median {statistics.median(cpu):.1f}, p95 {p95(cpu):.1f}")


if __name__ == "__main__":
    main()
