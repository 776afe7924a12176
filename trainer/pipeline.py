"""The one place where the stages are chained: `run_session` scores one input.

    audio -> transcribe -> speakers -> utterances -> coding -> metrics -> feedback

Progress is reported through a hook, `hook(step, artifact, completed=i, total=n)`, so
the CLI can draw a progress bar and the app a progress widget without either
leaking into the stages.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from threadpoolctl import threadpool_limits

from trainer.coding import DEFAULT_CODER, Coder, load_coder
from trainer.errors import SpeakerError
from trainer.schema import Attribution, CodedUtterance, Role, Session, TalkStats, Utterance
from trainer.scoring.checks import check_audio, check_roles, check_transcript
from trainer.scoring.feedback import build_feedback
from trainer.scoring.metrics import compute_metrics
from trainer.scoring.quality import estimate_quality
from trainer.scoring.talk_time import role_speech, swap_talk, talk_stats
from trainer.scoring.utterances import build_utterances
from trainer.speakers import SpeakerOptions, attribute, choose_method, extra_voices_warning
from trainer.speech.audio import MAX_HOURS, load_audio
from trainer.speech.level import speech_over_background_db
from trainer.speech.longform import transcribe_recording
from trainer.speech.transcribe import TranscribeOptions
from trainer.speech.transcript_files import TRANSCRIPT_EXTENSIONS, read_transcript

AUDIO_STEPS = ("audio", "transcribe", "speakers", "utterances", "coding", "metrics", "feedback")
TRANSCRIPT_STEPS = ("transcript", "coding", "metrics", "feedback")


class Hook(Protocol):
    """Receives each finished step and what it produced."""

    def __call__(self, step: str, artifact: Any, *, completed: int, total: int) -> None: ...


def _no_hook(step: str, artifact: Any, *, completed: int, total: int) -> None:
    """Default hook: report nothing."""


@dataclass(frozen=True)
class PipelineOptions:
    """Settings for every stage; part of what decides whether a stored result is current."""

    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    speakers: SpeakerOptions = field(default_factory=SpeakerOptions)
    coder: str = DEFAULT_CODER  # name in trainer.coding.CODERS
    keep_codes: bool = False  # trust codes a transcript already carries (instructor edits)
    max_hours: float = MAX_HOURS  # longer recordings are refused before (or while) decoding


def is_transcript(path: str | Path) -> bool:
    """Whether a path is scored as a transcript rather than as audio."""
    return Path(path).suffix.lower() in TRANSCRIPT_EXTENSIONS


def summarise(
    source: str,
    duration_s: float | None,
    coded: Sequence[CodedUtterance],
    **extra: Any,
) -> Session:
    """Metrics and feedback for coded utterances; also used after an instructor's edits."""
    speakers = extra.get("speakers")
    metrics = compute_metrics(coded, speakers)
    return Session(
        source=source,
        duration_s=duration_s,
        utterances=tuple(coded),
        metrics=metrics,
        feedback=build_feedback(coded, metrics),
        quality=estimate_quality(coded),
        **extra,
    )


# numpy's BLAS on one thread for the whole run: on some processors its results differ with the
# thread count, and Dask's workers start with one (OMP_NUM_THREADS=1), so the same recording
# was transcribed differently there than by a plain run with the default count.
@threadpool_limits.wrap(limits=1, user_api="blas")
def run_session(
    path: str | Path, options: PipelineOptions = PipelineOptions(), hook: Hook = _no_hook, name: str | None = None
) -> Session:
    """Score one recording or transcript from start to finish.

    Args:
        path: the file to read.
        options: settings for every stage.
        hook: told of each finished step.
        name: what to call the input in the result and in errors, when not its path (an
            upload's own file name, the path as given where the file is read elsewhere).

    Raises:
        TrainerError: the input cannot be scored (its subclass says why, naming the input
            as `name` when given).
    """
    source = str(path) if name is None else name
    path = Path(path)
    warnings: list[str] = []
    attribution: Attribution | None = None
    model = ""
    if is_transcript(path):
        steps = TRANSCRIPT_STEPS
        given = read_transcript(path, source)
        utterances, duration = given.utterances, given.duration_s
        speech = None  # no word times: utterance spans stand in
        hook("transcript", given, completed=1, total=len(steps))
    else:
        steps = AUDIO_STEPS
        audio = load_audio(path, options.max_hours, source)
        duration = round(audio.duration_s, 2)
        level = speech_over_background_db(audio)
        warnings.extend(check_audio(audio, level))
        hook("audio", audio, completed=1, total=len(steps))
        method = choose_method(audio, options.speakers)
        transcript = transcribe_recording(audio, method, options.transcribe)
        model = transcript.model
        hook("transcribe", transcript, completed=2, total=len(steps))
        warnings.extend(check_transcript(transcript, source))
        attribution = replace(attribute(audio, transcript, method, options.speakers), speech_over_background_db=level)
        warnings.extend(attribution.warnings)
        hook("speakers", attribution, completed=3, total=len(steps))
        utterances = build_utterances(attribution)
        speech = role_speech(attribution)
        hook("utterances", utterances, completed=4, total=len(steps))
        given = None
    coder = load_coder(options.coder)  # after reading: an input refused early costs no model loading
    coded = coder.code(utterances)
    if options.keep_codes and given is not None and given.codes is not None:
        # An instructor's codes are certain: no confidence, no probabilities, no ranges.
        coded = tuple(
            replace(c, code=code, confidence=None, probabilities=None) if code else c
            for c, code in zip(coded, given.codes)
        )
    hook("coding", coded, completed=len(steps) - 2, total=len(steps))
    warnings.extend(check_roles(coded))
    session = summarise(
        source,
        duration,
        coded,
        speakers=attribution,
        transcript_model=model,
        coder=coder.name,
        warnings=tuple(warnings),
        talk=talk_stats(utterances, speech),
    )
    hook("metrics", session.metrics, completed=len(steps) - 1, total=len(steps))
    hook("feedback", session.feedback, completed=len(steps), total=len(steps))
    return session


def choose_counsellor(
    session: Session, counsellor: str | Collection[str], coder: Coder, observers: Collection[str] = ()
) -> Session:
    """The session with the voice(s) `counsellor` as the counsellor, `observers` set aside and
    every other voice as client.

    Corrects a wrong automatic role choice without transcribing again, whatever the number
    of voices: the utterances are grouped anew from the stored words, then coded, measured
    and given feedback. Several voices can be the counsellor's where one person's voice came
    out as two; an observer's words count for nobody. A person decided, so the role
    confidence becomes 1.0.

    Raises:
        SpeakerError: the session has no such voice, no voice would be left as client, or it is
            a result from before words were stored that would need more than exchanging two
            voices (score the recording again).
    """
    chosen = {counsellor} if isinstance(counsellor, str) else set(counsellor)
    aside = set(observers)
    speakers = session.speakers
    labels = [label for label, _ in speakers.roles] if speakers is not None else []
    unknown = sorted((chosen | aside) - set(labels)) or ([] if chosen else ["(none)"])
    if speakers is None or unknown:
        raise SpeakerError(f"{session.source}: no voice {unknown[0]!r}; its voices are {', '.join(labels) or 'none'}")
    if not set(labels) - chosen - aside or chosen & aside:
        raise SpeakerError(f"{session.source}: leave at least one voice as the client, and each voice one role")
    roles = tuple((label, Role.COUNSELLOR if label in chosen else Role.CLIENT) for label in labels)
    kept = tuple(label for label in labels if label in aside)
    if roles == speakers.roles and kept == speakers.observers:
        return replace(session, speakers=replace(speakers, role_confidence=1.0))
    if not speakers.words:  # an older result: counsellor and client can still be exchanged
        if len(labels) != 2 or kept:
            raise SpeakerError(f"{session.source}: {len(labels)} voices; score the recording again to choose")
        return swap_session(session, coder)
    attribution = replace(speakers, roles=roles, role_confidence=1.0, observers=kept)
    utterances = build_utterances(attribution)
    # Set out by a person: the warning that extra voices count as client no longer holds.
    warnings = tuple(w for w in session.warnings if w != extra_voices_warning(speakers.n_speakers))
    talk = talk_stats(utterances, role_speech(attribution))
    return _recoded(replace(session, warnings=warnings), utterances, attribution, talk, coder)


def swap_session(session: Session, coder: Coder) -> Session:
    """The session with counsellor and client exchanged: re-coded, metrics and feedback anew.

    Corrects a wrong automatic role choice without transcribing again.

    Raises:
        SpeakerError: the recording had more than two voices, so exchanging two roles
            would make every extra voice a counsellor; the counsellor's voice must be named.
    """
    speakers = session.speakers
    if speakers is not None and len(speakers.roles) > 2:
        labels = ", ".join(label for label, _ in speakers.roles)
        how = (
            "name the counsellor's voice instead (trainer swap-roles --counsellor LABEL)"
            if speakers.words
            else "score the recording again with --swap-roles instead"
        )
        raise SpeakerError(f"{session.source}: {len(speakers.roles)} voices ({labels}); {how}")
    other = {Role.COUNSELLOR: Role.CLIENT, Role.CLIENT: Role.COUNSELLOR}
    utterances = tuple(replace(c.utterance, speaker=other[c.speaker]) for c in session.utterances)
    if speakers is not None:
        flipped = tuple((label, other[role]) for label, role in speakers.roles)
        speakers = replace(speakers, roles=flipped, role_confidence=1.0)  # a person decided
    return _recoded(session, utterances, speakers, swap_talk(session.talk) if session.talk else None, coder)


def _recoded(
    session: Session,
    utterances: Sequence[Utterance],
    speakers: Attribution | None,
    talk: TalkStats | None,
    coder: Coder,
) -> Session:
    """A scored session with new roles: its utterances coded again, metrics, feedback and the
    warnings about the roles (too few counsellor turns, no client) anew."""
    coded = coder.code(utterances)
    stale = set(check_roles(session.utterances))
    warnings = tuple(w for w in session.warnings if w not in stale) + check_roles(coded)
    return summarise(
        session.source,
        session.duration_s,
        coded,
        speakers=speakers,
        transcript_model=session.transcript_model,
        coder=coder.name,
        warnings=warnings,
        talk=talk,
    )
