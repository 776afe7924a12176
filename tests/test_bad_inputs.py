"""Bad inputs in a batch: each gets one line in summary.csv, an error or an ok with a warning.

Fixtures are made here at run time from the test clips (tests/data), numpy and espeak-ng, so no
broken file is kept in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import TEST_DATA, read_summary, with_hiss
from trainer.batch import resume
from trainer.batch.runner import find_inputs, score_batch
from trainer.errors import LanguageError, TrainerError
from trainer.pipeline import PipelineOptions, run_session
from trainer.schema import Transcript, Word
from trainer.scoring.checks import check_transcript
from trainer.scoring.intervals import NOISY_TALK_SHARE_ERROR
from trainer.speakers import SpeakerOptions
from trainer.speech.level import NOISY_DB
from trainer.speech.transcribe import TranscribeOptions

RATE = 16000
# name -> (status, words expected in its error or warnings); the README's table says the same.
EXPECTED = {
    "empty.wav": ("error", "file is empty"),
    "empty.csv": ("error", "file is empty"),
    "notes.mp3": ("error", "not a readable audio file"),
    "garbage.wav": ("error", "not a readable audio file"),
    "truncated.flac": ("ok", "recording ends early"),
    "silence.wav": ("error", "no speech was recognised"),
    "noise.wav": ("error", "no speech was recognised"),
    "music.wav": ("error", "no speech was recognised"),
    "short.wav": ("error", "too short to judge"),
    "one_voice.wav": ("ok", "only one speaker heard"),
    "noisy.flac": ("ok", "noisy recording: speech only"),
    "missing_column.csv": ("error", "missing column(s) text"),
    "header_only.csv": ("error", "transcript has no utterances"),
    "unknown_speaker.csv": ("error", "unknown speaker 'narrator'"),
}


def _music(seconds: float) -> np.ndarray:
    """Plucked major chords with harmonics: music without a voice."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for i, root in enumerate((261.6, 349.2, 392.0, 261.6) * int(seconds / 8 + 1)):
        start, end = i * 2.0, min(seconds, i * 2.0 + 2.0)
        if start >= seconds:
            break
        span = (t >= start) & (t < end)
        decay = np.exp(-3 * (t[span] - start))
        for ratio in (1.0, 1.25, 1.5):
            for harmonic in (1, 2, 3):
                out[span] += decay * np.sin(2 * np.pi * root * ratio * harmonic * t[span]) / harmonic
    return (0.2 * out / np.abs(out).max()).astype(np.float32)


def make_bad_folder(folder: Path) -> Path:
    """One file of each kind of trouble a real folder holds."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "notes.mp3").write_text("Shopping list: milk, eggs, bread.\n")
    (folder / "garbage.wav").write_bytes(b"RIFF" + rng.bytes(20000))
    stereo, rate = sf.read(TEST_DATA / "stereo_diarization.wav", dtype="float32")
    sf.write(folder / "whole.flac", stereo, rate)
    whole = (folder / "whole.flac").read_bytes()
    (folder / "truncated.flac").write_bytes(whole[: len(whole) // 2])
    (folder / "whole.flac").unlink()
    sf.write(folder / "silence.wav", np.zeros(10 * RATE, np.float32), RATE)
    sf.write(folder / "noise.wav", (0.1 * rng.standard_normal(10 * RATE)).astype(np.float32), RATE)
    sf.write(folder / "music.wav", _music(10.0), RATE)
    sf.write(folder / "short.wav", stereo[: RATE // 2], rate)
    jfk, jfk_rate = sf.read(TEST_DATA / "jfk.flac", dtype="float32")
    sf.write(folder / "one_voice.wav", np.stack([jfk[:, 0], np.zeros(len(jfk), np.float32)], axis=1), jfk_rate)
    # Real conversation with white noise 10 dB below its speech: still scored, and said to be noisy.
    meeting, meeting_rate = sf.read(TEST_DATA / "ami" / "trn09.flac", dtype="float32")  # 30 s: long enough to judge
    sf.write(folder / "noisy.flac", with_hiss(meeting, 10), meeting_rate)
    (folder / "missing_column.csv").write_text("speaker,words\ncounsellor,Hello\n")
    (folder / "header_only.csv").write_text("speaker,text\n")
    (folder / "unknown_speaker.csv").write_text("speaker,text\nnarrator,Once upon a time\ncounsellor,Hi\n")
    return folder


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The bad folder scored once; rows by file name, their `json` (named within the output folder) made whole."""
    base = tmp_path_factory.mktemp("bad")
    folder = make_bad_folder(base / "in")
    result = score_batch(find_inputs([folder]), base / "out")
    return {Path(r["file"]).name: {**r, "json": r["json"] and str(base / "out" / r["json"])} for r in result.rows}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_gets_one_line_reason(scored, name):
    status, words = EXPECTED[name]
    row = scored[name]
    reason = row["error"] if status == "error" else row["warnings"]
    assert row["status"] == status, row
    assert words in reason
    assert "\n" not in reason and "Traceback" not in reason
    if status == "error":
        assert row["error"].startswith(row["file"])


def test_a_noisy_recording_keeps_its_level_and_gets_the_wider_talk_share_range(scored):
    """The level the warning reads is stored with the speakers and widens the talk share's range."""
    row = scored["noisy.flac"]
    document = json.loads(Path(row["json"]).read_text(encoding="utf-8"))
    level = document["speakers"]["speech_over_background_db"]
    assert document["speakers"]["method"] == "diarization" and level < NOISY_DB
    share = document["metrics"]["counsellor_talk_share"]
    expected = (max(0.0, share - NOISY_TALK_SHARE_ERROR), min(1.0, share + NOISY_TALK_SHARE_ERROR))
    low, high = float(row["counsellor_talk_share_low"]), float(row["counsellor_talk_share_high"])
    assert (low, high) == pytest.approx(expected, abs=1e-4)
    # summary.csv says the same, so a batch's noisy or doubtful sessions can be sorted out there.
    written = {Path(r["file"]).name: r for r in read_summary(Path(row["json"]).parent)}["noisy.flac"]
    assert float(written["speech_over_background_db"]) == level
    assert written["speakers_method"] == "diarization"
    assert int(written["n_speakers"]) == document["speakers"]["n_speakers"]
    assert float(written["role_confidence"]) == document["speakers"]["role_confidence"]


def test_every_bad_kind_is_covered(scored):
    assert set(scored) == set(EXPECTED)


def test_missing_path_and_folder_given_as_inputs(tmp_path):
    folder = tmp_path / "week3.wav"
    folder.mkdir()
    rows = score_batch([tmp_path / "nope.wav", folder], tmp_path / "out").rows
    assert rows[0]["error"] == f"{tmp_path / 'nope.wav'}: no such file"
    assert rows[1]["error"] == f"{folder}: not a file"


def test_permission_denied_is_one_line(tmp_path, monkeypatch, transcript_csv):
    # Tests run as root, who may read anything: make open() refuse as it would for a user.
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(resume, "open", refuse, raising=False)
    row = score_batch([transcript_csv], tmp_path / "out").rows[0]
    assert row["status"] == "error"
    assert row["error"] == f"{transcript_csv}: permission denied"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may read any file, whatever its permissions")
def test_unreadable_file_as_a_user(tmp_path, transcript_csv):
    transcript_csv.chmod(0)
    row = score_batch([transcript_csv], tmp_path / "out").rows[0]
    assert row["error"] == f"{transcript_csv}: permission denied"


needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng to speak German")
GERMAN = (
    ("de", "Guten Tag. Wie geht es Ihnen heute? Was möchten Sie an Ihrem Trinken ändern?"),
    ("de+m3", "Ich trinke zu viel Bier am Wochenende, und mein Arzt macht sich Sorgen."),
)


def german_dialogue(path: Path) -> Path:
    """Two German voices, one per channel, taking turns (espeak-ng)."""
    voices = []
    for voice, text in GERMAN:
        wav = path.with_name(f"{voice}.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
        voices.append(sf.read(wav, dtype="float32"))
    (left, rate), (right, _) = voices
    both = np.zeros((len(left) + len(right), 2), np.float32)
    both[: len(left), 0], both[len(left) :, 1] = left, right
    sf.write(path, both, rate)
    return path


@needs_espeak
def test_non_english_speech_under_an_english_only_model_is_scored_with_a_warning(tmp_path):
    # tiny.en cannot tell languages apart; what it hears in German is low-confidence English.
    row = score_batch([german_dialogue(tmp_path / "german.wav")], tmp_path / "out").rows[0]
    assert row["status"] == "ok"
    assert "low confidence" in row["warnings"]


@needs_espeak
def test_non_english_speech_under_a_multilingual_model_is_refused(tmp_path):
    options = PipelineOptions(transcribe=TranscribeOptions(model="base"))
    row = score_batch([german_dialogue(tmp_path / "german.wav")], tmp_path / "out", options).rows[0]
    assert row["status"] == "error"
    assert row["error"].endswith("speech is in 'de'; the behaviour coder reads English only")


def test_speech_in_another_language_is_refused_by_a_multilingual_model():
    heard = Transcript(words=(Word(0.0, 0.4, "Hallo", 0.95),), duration_s=1.0, language="de")
    with pytest.raises(LanguageError, match="speech is in 'de'"):
        check_transcript(heard, "x.wav")


@pytest.mark.parametrize(
    ("file", "content", "options", "message"),
    [
        ("x.csv", "speaker,text\nnurse,Hello\n", PipelineOptions(), " line 2: unknown speaker 'nurse'"),
        ("x.json", "{}", PipelineOptions(), ": no 'utterances' list"),
        ("x.wav", b"RIFF but not really audio" * 50, PipelineOptions(), ": not a readable audio file"),
        ("x.flac", None, PipelineOptions(speakers=SpeakerOptions(method="channel")), ": channel attribution needs"),
    ],
)
def test_errors_name_the_input_as_given_not_where_it_is_read(tmp_path, jfk_path, file, content, options, message):
    """An upload is read from a hashed path: reader, decoder and speaker stages all name it as the user called it."""
    path = tmp_path / "incoming" / file
    path.parent.mkdir()
    if content is None:
        shutil.copy(jfk_path, path)  # mono: no channel per voice
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(TrainerError) as raised:
        run_session(path, options, name=f"week 1 {file}")
    assert str(raised.value).startswith(f"week 1 {file}{message}")
    assert str(tmp_path) not in str(raised.value)
