"""Live practice, replayed as a user would be heard: latency, CPU, agreement, memory.

Each recording is played through the recorder in 100 ms blocks at real time (a fake
sound card on its own thread), so the live path runs exactly as under `trainer record
--live`: blocks are written to a WAV file and fed to a LiveSession. Then:

- latency: for every counsellor utterance, stream time when its code appeared minus
  the end of the utterance (median and 95th percentile; targets 4 s and 8 s);
- CPU: process CPU seconds over wall seconds during the replay (target < 1.5 cores);
- agreement: live counts once everything heard is coded, against `run_session` on the
  saved file, per code (target: within 10 %);
- memory (--minutes N): the sample looped to N minutes, replayed --speed times faster
  than real time, resident memory sampled every 10 s of audio (target: the last value
  within 200 MB of the 5-minute value).

The machine's load average is printed with the figures: on a shared machine every
number depends on it.

    .venv/bin/python bench/bench_live.py sample_audio/strong_stereo.opus sample_audio/weak_mono.flac
    .venv/bin/python bench/bench_live.py sample_audio/strong_stereo.opus --minutes 30 --speed 3 --no-offline
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from trainer.live.session import LiveSession
from trainer.pipeline import run_session
from trainer.schema import Code
from trainer.speech import record as recorder
from trainer.speech.audio import SAMPLE_RATE, load_audio

BLOCK_S = 0.1


class Replay:
    """A fake sound card: plays (channels, n) samples cyclically for `seconds`, `speed` times real time."""

    def __init__(self, samples: np.ndarray, seconds: float, speed: float, callback) -> None:
        self.samplerate = float(SAMPLE_RATE)
        self.samples, self.total = samples.T.copy(), round(seconds * SAMPLE_RATE)
        self.speed, self.callback = speed, callback
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._play, daemon=True)
        self.thread.start()

    def _play(self) -> None:
        step, n, at, began = round(BLOCK_S * SAMPLE_RATE), len(self.samples), 0, time.monotonic()
        while at < self.total and not self._stop.is_set():
            idx = np.arange(at, min(at + step, self.total)) % n
            self.callback(self.samples[idx], len(idx), None, None)
            at += len(idx)
            time.sleep(max(0.0, began + at / SAMPLE_RATE / self.speed - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    def close(self) -> None:
        pass


def replay(path: Path, minutes: float | None, speed: float, out: Path) -> dict:
    """Replay one recording through record() + LiveSession; the figures of that run."""
    audio = load_audio(path)
    seconds = minutes * 60 if minutes else audio.duration_s
    sessions: list[LiveSession] = []
    memory: list[tuple[float, float]] = []
    process = psutil.Process()

    def opener(*, samplerate, channels, callback):
        sessions.append(LiveSession(SAMPLE_RATE, channels))
        while not sessions[0].snapshot().ready:  # as a user waits for the panel
            time.sleep(0.1)
        return Replay(audio.samples, seconds, speed, callback)

    def on_level(db: float, elapsed: float) -> None:
        if not memory or elapsed - memory[-1][0] >= 10:
            memory.append((elapsed, process.memory_info().rss / 2**20))

    cpu0 = wall0 = None

    def on_block(block: np.ndarray) -> None:
        nonlocal cpu0, wall0
        if cpu0 is None:
            cpu0, wall0 = sum(process.cpu_times()[:2]), time.monotonic()
        sessions[0].feed(block)

    options = recorder.RecordOptions(channels=audio.channels, max_s=seconds)
    recorder.record(out, threading.Event(), options, on_level=on_level, open_stream=opener, on_block=on_block)
    cpu = (sum(process.cpu_times()[:2]) - cpu0) / (time.monotonic() - wall0)
    session = sessions[0]
    live_latency = [e.heard_s - e.utterance_end_s for e in session.events]
    session.finish(wait=True)
    return {
        "session": session,
        "latency": live_latency,
        "cpu": cpu,
        "memory": memory,
        "seconds": seconds,
        "skipped": session.snapshot().skipped_s,
    }


def counts(metrics) -> dict[Code, int]:
    return {code: metrics.count(code) for code in Code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--minutes", type=float, default=None, help="loop each recording to this length")
    parser.add_argument("--speed", type=float, default=1.0, help="replay this many times faster than real time")
    parser.add_argument("--no-offline", action="store_true", help="skip scoring the saved file")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.paths:
            saved = Path(tmp) / f"{path.stem}.wav"
            r = replay(path, args.minutes, args.speed, saved)
            lat = sorted(r["latency"])
            p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else float("nan")
            print(f"\n{path.name}: {r['seconds']:.0f} s at {args.speed:g}x, load average {os.getloadavg()}")
            if lat:
                print(
                    f"  code latency after utterance end: median {statistics.median(lat):.2f} s, p95 {p95:.2f} s, "
                    f"max {lat[-1]:.2f} s ({len(lat)} codes)"
                )
            print(f"  CPU during replay: {r['cpu']:.2f} cores; skipped from the live view: {r['skipped']:.1f} s")
            if r["memory"]:
                at5 = next((m for t, m in r["memory"] if t >= 300), r["memory"][0][1])
                print(
                    f"  RSS: at 5 min {at5:.0f} MB, last {r['memory'][-1][1]:.0f} MB, "
                    f"max {max(m for _, m in r['memory']):.0f} MB "
                    f"(every 10 s: {' '.join(f'{m:.0f}' for _, m in r['memory'][::6])})"
                )
            if args.no_offline:
                continue
            live = counts(r["session"].snapshot().metrics)
            offline = counts(run_session(saved).metrics)
            print("  code                 live  offline  difference")
            for code in Code:
                diff = abs(live[code] - offline[code]) / offline[code] if offline[code] else float(live[code] > 0)
                print(f"  {code.value:20} {live[code]:4d}  {offline[code]:7d}  {diff:9.0%}")


if __name__ == "__main__":
    main()
