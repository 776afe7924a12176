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


class AuthError(TrainerError):
    """A user name or password is wrong, or an account cannot be created."""


class AccessDenied(TrainerError):
    """The user may not see or change this session (or it does not exist)."""


class StoreError(TrainerError):
    """The session database cannot be opened or does not fit this version."""


class UploadError(TrainerError):
    """An upload is too large or of a kind the trainer cannot score."""


class InputError(TrainerError):
    """An input file is empty or cannot be read."""


class LanguageError(TrainerError):
    """The speech is in a language the coder cannot read."""


class SchedulerError(TrainerError):
    """The distributed scheduler cannot be reached."""


class RecordingError(TrainerError):
    """Audio cannot be recorded: no PortAudio, no input device, or an unwritable file."""


class ReviewError(TrainerError):
    """An instructor's correction does not fit its utterance (e.g. a client talk type on counsellor speech)."""


def one_line(error: BaseException) -> str:
    """An error as a single line, naming its kind when the message alone is unclear."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()  # "permission denied", "no such file or directory"
    if isinstance(error, MemoryError):
        return "out of memory"
    text = " ".join(str(error).split())
    if isinstance(error, TrainerError):
        return text
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__
