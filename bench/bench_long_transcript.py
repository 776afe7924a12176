"""Time and peak memory of `trainer score` on one very long timed transcript.

Usage:
    python bench/bench_long_transcript.py [--rows 100000] [--coder mi-coder] [--distinct]

Writes a CSV transcript of ROWS alternating counsellor and client utterances (with
backchannels said inside the other's turn, so talk statistics have floor changes and
overlaps to find) into a temporary folder, scores it with a fresh `trainer score`
process under `/usr/bin/time -v`, and prints wall time, CPU time (user + system: what the
run costs whatever else the machine is doing) and peak resident memory.

The rows repeat six lines, and the trained coder encodes a batch of texts it has already
seen only once; `--distinct` numbers every line, so every row is new to the encoder, as
in a real session.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINES = (
    ("counsellor", "What would you like to talk about today?"),
    ("client", "My doctor says I drink too much and I should cut down a bit."),
    ("counsellor", "You're not sure you agree with her."),
    ("client", "Well, I do drink more than I used to, most days."),
    ("counsellor", "Do you drink every day?"),
    ("client", "Mm-hmm."),
)


def write_transcript(path: Path, rows: int, distinct: bool = False) -> None:
    """ROWS utterances, every sixth a backchannel inside the previous turn; numbered if `distinct`."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("speaker", "start", "end", "text"))
        t = 0.0
        for i in range(rows):
            speaker, line = LINES[i % len(LINES)]
            text = f"{line} ({i})" if distinct else line
            if line == "Mm-hmm.":
                writer.writerow((speaker, f"{t - 1.5:.2f}", f"{t - 1.0:.2f}", text))
                continue
            length = 0.4 * len(line.split())
            writer.writerow((speaker, f"{t:.2f}", f"{t + length:.2f}", text))
            t += length + 0.6


def main() -> None:
    """Score one generated transcript and print rows, wall seconds and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--coder", default="mi-coder")
    parser.add_argument("--distinct", action="store_true", help="no two rows the same text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "long.csv"
        write_transcript(source, args.rows, args.distinct)
        command = [sys.executable, "-m", "trainer", "score", str(source), "--out", f"{tmp}/out", "--coder", args.coder]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
        times = (re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr) for kind in ("User", "System"))
        cpu = sum(float(found.group(1)) for found in times)
        status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}"
    print(
        f"{args.rows}{' distinct' if args.distinct else ''} rows, coder {args.coder}: "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU, "
        f"peak RSS {peak_kb / 1e6:.2f} GB ({peak_kb:,} kB); "
        f"{status}; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
