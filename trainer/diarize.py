"""Speaker diarization for single-microphone recordings (not available yet)."""

from __future__ import annotations

from trainer.audio import Audio
from trainer.errors import SpeakerError
from trainer.schema import Attribution, Transcript


def attribute_mono(audio: Audio, transcript: Transcript, options: object) -> Attribution:
    """Refuse honestly rather than put every word on one speaker."""
    raise SpeakerError(
        f"{audio.source}: single-microphone recordings cannot be split into speakers yet; "
        "use a stereo recording (one voice per channel) or a transcript"
    )
