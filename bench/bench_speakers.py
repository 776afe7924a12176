"""How well single-microphone recordings are split into speakers and roles, and how fast.

Prints four tables:

1. Real speech: the two real speakers of stereo_diarization.wav mixed to mono, as
   recorded (talking at once), one after the other, and interleaved; truth from each
   channel's own voice activity. Accuracy counts time where exactly one of them speaks,
   under the best matching of voices to speakers.
2. Samples: every recording with a `<stem>.ref.csv` (stereo ones mixed to mono first),
   scored end to end with diarization: speech time on the right role (turns, and
   utterances as `trainer.training.reference.compare` measures them), counsellor talk share
   against the reference, role confidence.
3. Voice counts: one real voice, and three.
4. Roles from text alone on the AnnoMI development transcripts.

Each recording's diarization time is divided by its transcription time, both measured
in the same run after the models were loaded (the one-off loads are printed apart).
Targets: >= 95% of speech time on the right speaker, talk share within 0.03, ratio <= 0.3.

    .venv/bin/python bench/bench_speakers.py [--samples sample_audio] [--no-annomi]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile

from trainer.diarize import FRAME, load_encoder, speech_frames
from trainer.pipeline import PipelineOptions, run_session
from trainer.roles import counsellor_probabilities, voice_profile
from trainer.schema import Role, Session, SpeakerTurn
from trainer.speakers import FRAME_S, SpeakerOptions
from trainer.speech.audio import SAMPLE_RATE, Audio, load_audio
from trainer.speech.transcribe import TranscribeOptions, load_model, transcribe
from trainer.speech.transcript_files import read_transcript
from trainer.training.reference import compare, reference_path

AUDIO = Path(__file__).resolve().parents[1] / "tests" / "data"  # the real two-speaker clips
LEFT_PAUSE_S = 2.6  # inside the left speaker's pause between "wizard," and "who"
GAP_S = 0.8  # silence between turns in the made-up conversations
DIARIZATION = PipelineOptions(speakers=SpeakerOptions(method="diarization"))


def timed(fn: Callable, *args: object) -> tuple[object, float]:
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def frame_truth(n_frames: int, parts: Sequence[tuple[str, np.ndarray, int]]) -> list[set[str]]:
    """Who speaks in each frame, from each clean part's own voice activity at its offset."""
    truth: list[set[str]] = [set() for _ in range(n_frames)]
    for speaker, samples, offset in parts:
        first = offset // FRAME
        for i in np.flatnonzero(speech_frames(samples)):
            if first + i < n_frames:
                truth[first + i].add(speaker)
    return truth


def turn_accuracy(turns: Sequence[SpeakerTurn], truth: Sequence[set[str]], to_truth: Callable[[str], str] | None):
    """(accuracy, coverage) over frames with exactly one true speaker.

    `to_truth` maps a turn label to a true speaker; None picks the best one-to-one match.
    """
    predicted: list[str | None] = [None] * len(truth)
    for t in turns:
        for i in range(int(t.start / FRAME_S), min(len(truth), int(t.end / FRAME_S))):
            predicted[i] = t.speaker
    pairs = [(p, next(iter(s))) for p, s in zip(predicted, truth) if len(s) == 1 and p is not None]
    single = sum(len(s) == 1 for s in truth)
    if not pairs:
        return 0.0, 0.0
    if to_truth is None:
        counts: dict[tuple[str, str], int] = {}
        for pair in pairs:
            counts[pair] = counts.get(pair, 0) + 1
        mapping: dict[str, str] = {}
        for (label, speaker), _ in sorted(counts.items(), key=lambda kv: -kv[1]):
            if label not in mapping and speaker not in mapping.values():
                mapping[label] = speaker
        to_truth = mapping.get
    right = sum(to_truth(p) == s for p, s in pairs)
    return right / len(pairs), len(pairs) / single


def real_mixes() -> dict[str, tuple[np.ndarray, list[tuple[str, np.ndarray, int]]]]:
    """Mono mixes of the two real speakers, with the clean parts that make each one."""
    stereo = load_audio(AUDIO / "stereo_diarization.wav").samples
    left, right = stereo[0], stereo[1]
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    cut = int(LEFT_PAUSE_S * SAMPLE_RATE)
    layouts = {
        "talking at once": [("left", left), ("right", right)],
        "one after the other": [("left", left), ("gap", gap), ("right", right)],
        "interleaved": [("left", left[:cut]), ("gap", gap), ("right", right), ("gap", gap), ("left", left[cut:])],
    }
    mixes = {}
    for name, layout in layouts.items():
        if name == "talking at once":
            mixes[name] = ((left + right) / 2, [("left", left, 0), ("right", right, 0)])
            continue
        parts, offset = [], 0
        for speaker, samples in layout:
            if speaker != "gap":
                parts.append((speaker, samples, offset))
            offset += len(samples)
        mixes[name] = (np.concatenate([s for _, s in layout]), parts)
    return mixes


def bench_real(options: SpeakerOptions) -> list[float]:
    from trainer.diarize import attribute_mono

    print("\n## Real speech (stereo_diarization.wav mixed to mono)\n")
    print("| mix | seconds | voices | right speaker | coverage | transcribe s | diarize s | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    accuracies = []
    for name, (mono, parts) in real_mixes().items():
        transcript, t_transcribe = timed(transcribe, mono, TranscribeOptions())
        attribution, t_diarize = timed(attribute_mono, Audio(mono[None, :], name), transcript, options)
        truth = frame_truth(len(mono) // FRAME, parts)
        accuracy, coverage = turn_accuracy(attribution.turns, truth, None)
        if name != "talking at once":
            accuracies.append(accuracy)
        print(
            f"| {name} | {len(mono) / SAMPLE_RATE:.1f} | {attribution.n_speakers} | {accuracy:.1%} | "
            f"{coverage:.0%} | {t_transcribe:.2f} | {t_diarize:.2f} | {t_diarize / t_transcribe:.2f} |"
        )
    return accuracies


def mono_copy(path: Path, folder: Path) -> Path:
    """The recording itself when mono, else its channels mixed into a WAV in `folder`."""
    audio = load_audio(path)
    if audio.channels == 1:
        return path
    target = folder / f"{path.stem}.mono.wav"
    soundfile.write(target, audio.mono(), SAMPLE_RATE)
    return target


def score_timed(path: Path) -> tuple[Session, float, float]:
    """Score one recording with diarization: the session, transcription and diarization seconds."""
    marks: dict[str, float] = {}

    def hook(step: str, artifact: object, *, completed: int, total: int) -> None:
        marks[step] = time.perf_counter()

    session = run_session(path, DIARIZATION, hook)
    return session, marks["transcribe"] - marks["audio"], marks["speakers"] - marks["transcribe"]


def reference_truth(path: Path, n_frames: int) -> list[set[str]]:
    """Roles speaking in each frame, from a reference file."""
    truth: list[set[str]] = [set() for _ in range(n_frames)]
    for u in read_transcript(path).utterances:
        for i in range(int(u.start / FRAME_S), min(n_frames, int(u.end / FRAME_S))):
            truth[i].add(u.speaker.value)
    return truth


def bench_samples(folder: Path) -> tuple[list[float], list[float], list[float]]:
    print(f"\n## Samples in {folder} (stereo ones mixed to mono)\n")
    print(
        "| sample | voices | turns right | utterances right | talk share ref | scored | error | "
        "role confidence | transcribe s | diarize s | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    accuracies, errors, ratios = [], [], []
    samples = sorted(p for p in folder.glob("*") if reference_path(p).is_file() and not p.name.endswith(".csv"))
    with tempfile.TemporaryDirectory() as tmp:
        for path in samples:
            session, t_transcribe, t_diarize = score_timed(mono_copy(path, Path(tmp)))
            a = session.speakers
            truth = reference_truth(reference_path(path), int((session.duration_s or 0) / FRAME_S) + 1)
            turns_right, _ = turn_accuracy(a.turns, truth, lambda label, a=a: a.role_of(label).value)
            c = compare(session, reference_path(path))
            accuracies.append(c.attributed_share)
            errors.append(c.talk_share_error or 0.0)
            ratios.append(t_diarize / t_transcribe)
            print(
                f"| {path.name} | {a.n_speakers} | {turns_right:.1%} | {c.attributed_share:.1%} | "
                f"{c.talk_share_reference:.3f} | {c.talk_share_scored:.3f} | {c.talk_share_error:.3f} | "
                f"{a.role_confidence:.3f} | {t_transcribe:.2f} | {t_diarize:.2f} | {ratios[-1]:.2f} |"
            )
    return accuracies, errors, ratios


def bench_voice_counts(options: SpeakerOptions) -> None:
    from trainer.diarize import attribute_mono

    jfk = load_audio(AUDIO / "jfk.flac").mono()
    stereo = load_audio(AUDIO / "stereo_diarization.wav").samples
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    three = np.concatenate([jfk, gap, stereo[0], gap, stereo[1], gap, stereo[0], gap, stereo[1]])
    print("\n## Voice counts\n")
    print("| recording | true voices | found | warnings |")
    print("| --- | --- | --- | --- |")
    for name, mono, true in (("jfk.flac", jfk, 1), ("jfk + left + right + left + right", three, 3)):
        attribution = attribute_mono(Audio(mono[None, :], name), transcribe(mono), options)
        print(f"| {name} | {true} | {attribution.n_speakers} | {'; '.join(attribution.warnings) or '-'} |")


def bench_annomi_roles() -> None:
    from trainer.training.annomi import load_annomi

    transcripts = load_annomi(skip_swapped=False)
    right, confidence = 0, []
    for t in transcripts:
        utterances = t.plain
        profiles = {
            role: voice_profile([u.text for u in utterances if u.speaker is role], opens=utterances[0].speaker is role)
            for role in Role
        }
        p = counsellor_probabilities(profiles)
        right += p[Role.COUNSELLOR] > p[Role.CLIENT]
        confidence.append(max(p.values()))
    print("\n## Roles from text (AnnoMI development transcripts, no swapped ones removed)\n")
    print(f"counsellor found in {right} of {len(transcripts)}; mean confidence {np.mean(confidence):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=Path("sample_audio"))
    parser.add_argument("--no-annomi", action="store_true", help="skip the roles-from-text table")
    args = parser.parse_args()
    _, t_whisper = timed(load_model, TranscribeOptions().model)
    _, t_encoder = timed(load_encoder)
    print(f"one-off loads: Whisper model {t_whisper:.2f} s, voice encoder (with torch) {t_encoder:.2f} s")
    options = SpeakerOptions()
    real = bench_real(options)
    accuracies, errors, ratios = bench_samples(args.samples) if args.samples.is_dir() else ([], [], [])
    bench_voice_counts(options)
    if not args.no_annomi:
        bench_annomi_roles()
    worst = min(real + accuracies)
    print(
        f"\nworst right-speaker share {worst:.1%} (target >= 95%); "
        f"worst talk share error {max(errors, default=0.0):.3f} (target <= 0.03); "
        f"worst diarize/transcribe ratio on samples {max(ratios, default=0.0):.2f} (target <= 0.3)"
    )


if __name__ == "__main__":
    main()
