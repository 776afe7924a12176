"""Live practice's voice tracking from one microphone, on real voices.

Live practice cuts speech into windows at 0.2-s pauses as it arrives and gives each
window whole to one of two running voices (`trainer.live.roles.VoiceRoles`, no voice
profile). Its running counsellor talk share is measured here against the truth, beside
the share the score after Stop gives (`trainer.speakers.diarize`, from the audio alone):

1. AMI: the ten real 30-s meeting excerpts (truth in `train.rttm`); for each main speaker
   (>= 2 s) the live voice that holds most of their time is taken as the counsellor.
2. Turns: two real AMI speakers taking turns, as in a role play. Each speaker's stretches
   of at least 1 s with nobody else speaking are taken in order and alternated, with a
   pause of `--min-pause` to 1 s between turns; the first speaker's share is measured.

`--pieces S` also splits every live window of 2*S s or more into pieces of about S s,
each given its own voice (a variant that is not shipped).

    .venv/bin/python bench/bench_live_voices.py [--data ../shared/data] [--pieces 1.5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_speakers import MAIN_SPEAKER_S, TWO_PEOPLE, print_talk_shares, read_rttm, stretches, taking_turns
from pyannote.core import Annotation, Segment

from trainer.live.roles import VoiceRoles
from trainer.live.vad import Segmenter, SpeechWindow
from trainer.schema import Role
from trainer.speakers.diarize import diarize
from trainer.speech.audio import SAMPLE_RATE, load_audio

BLOCK = SAMPLE_RATE // 10  # 100-ms blocks, as a sound card delivers them
TURN_PAIRS = (*TWO_PEOPLE, ("FEE087", ("trn07", "trn08"), "FEE088", ("trn08",)))


def live_windows(samples: np.ndarray, pieces_s: float = 0.0) -> list[SpeechWindow]:
    """The speech windows live practice hears in a mono recording fed in 100-ms blocks
    (each split into pieces of about `pieces_s` when set)."""
    segmenter, windows = Segmenter(), []
    for i in range(0, len(samples), BLOCK):
        windows += segmenter.feed(samples[None, i : i + BLOCK])
    windows += segmenter.flush()
    if not pieces_s:
        return windows
    out = []
    for w in windows:
        n = max(1, int(w.duration_s // pieces_s))
        edges = np.linspace(w.start, w.end, n + 1)
        cut = ((edges - w.start) * SAMPLE_RATE).round().astype(int)
        out += [SpeechWindow(a, b, w.samples[i:j]) for a, b, i, j in zip(edges, edges[1:], cut, cut[1:])]
    return out


def live_share(windows: list[SpeechWindow], ref: Annotation, speaker: str) -> float:
    """The running share of the live voice that holds most of `speaker`'s time."""
    roles = VoiceRoles()
    voices = [roles.role(w) for w in windows]
    held = dict.fromkeys(Role, 0.0)
    for w, voice in zip(windows, voices):
        held[voice] += ref.crop(Segment(w.start, w.end)).label_duration(speaker)
    chosen = max(held, key=held.get)
    return sum(w.duration_s for w, v in zip(windows, voices) if v is chosen) / sum(w.duration_s for w in windows)


def stopped_share(samples: np.ndarray, ref: Annotation, speaker: str) -> tuple[float, int]:
    """The share after Stop (diarized from the audio alone) of the voice that holds most of
    `speaker`'s time, and how many voices were found."""
    hyp = Annotation()
    for turn in diarize(samples).turns:
        hyp[Segment(turn.start, turn.end)] = turn.speaker
    held = {v: ref.crop(hyp.label_timeline(v)).label_duration(speaker) for v in hyp.labels()}
    chosen = max(held, key=held.get)
    return hyp.label_duration(chosen) / hyp.get_timeline().duration(), len(hyp.labels())


def bench_ami(data: Path, truth: dict[str, Annotation], pieces_s: float) -> None:
    rows = []
    for clip in sorted(truth):
        windows = live_windows(load_audio(data / "audio" / "ami" / f"{clip}.wav").mono(), pieces_s)
        ref = truth[clip]
        total = sum(ref.label_duration(s) for s in ref.labels())
        for speaker in ref.labels():
            if windows and ref.label_duration(speaker) >= MAIN_SPEAKER_S:
                rows.append((clip, speaker, ref.label_duration(speaker) / total, live_share(windows, ref, speaker)))
    print_talk_shares(rows, " in live practice (one microphone, no voice profile)")


def bench_turns(data: Path, truth: dict[str, Annotation], pieces_s: float, min_pause: float) -> None:
    print(f"\n## Two real voices taking turns ({min_pause:g}-1 s between turns): the first speaker's share\n")
    print("| speakers | length | turns | true share | live | live error | after Stop | error | voices after Stop |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for a, clips_a, b, clips_b in TURN_PAIRS:
        first, second = stretches(data, truth, a, clips_a), stretches(data, truth, b, clips_b)
        samples, ref = taking_turns((first, second), (a, b), min_pause=min_pause)
        true = ref.label_duration(a) / ref.get_timeline().duration()
        live = live_share(live_windows(samples, pieces_s), ref, a)
        stopped, found = stopped_share(samples, ref, a)
        print(
            f"| {a} + {b} | {len(samples) / SAMPLE_RATE:.0f} s | {len(first)} + {len(second)} | {true:.3f} | "
            f"{live:.3f} | {abs(live - true):.3f} | {stopped:.3f} | {abs(stopped - true):.3f} | {found} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pieces", type=float, default=0.0, help="split live windows into pieces this long")
    parser.add_argument("--min-pause", type=float, default=0.05, help="shortest pause between turns, seconds")
    args = parser.parse_args()
    truth = read_rttm(args.data / "audio" / "ami" / "train.rttm")
    bench_ami(args.data, truth, args.pieces)
    bench_turns(args.data, truth, args.pieces, args.min_pause)


if __name__ == "__main__":
    main()
