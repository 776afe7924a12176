"""Errors the library raises; the CLI and the app turn them into one-line messages."""


class TrainerError(Exception):
    """Base class: a problem with an input or a setting, not a bug."""


class AudioError(TrainerError):
    """The audio file cannot be read or decoded."""


class TranscriptFormatError(TrainerError):
    """A transcript file does not follow a supported format."""


class NoSpeechError(TrainerError):
    """The recording contains no speech that could be transcribed."""


class ModelNotAvailable(TrainerError):
    """A requested model is neither bundled, installed nor found at a path."""


class SpeakerError(TrainerError):
    """Speakers could not be told apart in a recording."""
