"""Speakers from a reference transcript: `<stem>.ref.csv` beside the recording.

An oracle (as pyannote's OracleVoiceActivityDetection is for speech): with the true
turns given, transcription, coding, metrics and the app can be judged on their own,
and a benchmark can tell diarization errors from the rest.
"""

from __future__ import annotations

from trainer.errors import SpeakerError
from trainer.schema import Role, SpeakerTurn, Transcript
from trainer.speakers.strategy import SpeakerOptions, Voices
from trainer.speakers.turns import label_words
from trainer.speech.audio import Audio
from trainer.speech.transcript_files import read_transcript
from trainer.training.reference import reference_path


def reference_voices(audio: Audio, transcript: Transcript, options: SpeakerOptions) -> Voices:
    """The turns and roles a reference transcript gives (a `Strategy`).

    Raises:
        TrainerError: no reference beside the recording, or one without times.
    """
    path = reference_path(audio.source)
    if not path.is_file():
        raise SpeakerError(f"{audio.label}: no reference transcript {path.name} beside it")
    utterances = read_transcript(path).utterances
    if any(u.start is None or u.end is None for u in utterances):
        raise SpeakerError(f"{path}: the reference needs start and end times")
    turns = tuple(SpeakerTurn(u.start, u.end, u.speaker.value) for u in utterances)
    return Voices(
        turns=turns,
        words=label_words(transcript.words, turns),
        method="reference",
        roles=tuple((role.value, role) for role in Role),
    )
