"""`trainer record --live` driven by a fake sound card playing real two-voice speech."""

from __future__ import annotations

import io
import json
import threading
import time

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from tests.conftest import TEST_DATA
from tests.test_record import opener
from trainer.cli import main
from trainer.live import terminal
from trainer.live.roles import ChannelRoles, VoiceRoles, embed_voice
from trainer.live.session import LiveOptions, default_roles
from trainer.schema import Role
from trainer.speech import record as recorder
from trainer.speech.audio import load_audio

CODE_TIMEOUT_S = 600  # models load and code one utterance on a busy shared 2-core machine


class EnterWhen(io.RawIOBase):
    """Standard input whose first line (the Enter that stops recording) comes when `event` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not len(buffer):  # click probes the stream with read(0) before the command runs
            return 0
        self.event.wait(CODE_TIMEOUT_S)
        buffer[:1] = b"\n"
        return 1


def test_live_panel_shows_codes_while_recording_then_scores(monkeypatch, tmp_path):
    stereo = soundfile.read(TEST_DATA / "stereo_diarization.wav", dtype="float32", always_2d=True)[0]
    stereo = np.concatenate([stereo, np.zeros((16000, 2), np.float32)])  # the left voice talks to the end: a pause
    monkeypatch.setattr(recorder, "open_microphone", opener(stereo, 16000, realtime=True))
    sessions = []

    class Watched(terminal.LiveSession):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sessions.append(self)

    monkeypatch.setattr(terminal, "LiveSession", Watched)
    coded = threading.Event()

    def watch():  # press Enter once the counsellor's sentence has its code on the panel
        deadline = time.monotonic() + CODE_TIMEOUT_S
        while time.monotonic() < deadline:
            if sessions and any(c.code for c in sessions[0].coded() if c.speaker is Role.COUNSELLOR):
                time.sleep(0.5)  # at least one redraw
                break
            time.sleep(0.1)
        coded.set()

    threading.Thread(target=watch, daemon=True).start()
    out = tmp_path / "out"
    args = ["record", "--out", str(tmp_path / "s.wav"), "--channels", "2", "--live", "--score-out", str(out)]
    result = CliRunner().invoke(main, args, input=EnterWhen(coded))
    assert result.exit_code == 0, result.output
    assert "Live practice" in result.stderr
    assert "Roles: one microphone each; the left one is the counsellor's." in result.stderr
    assert "Last coded:" in result.stderr and "confused complaint" in result.stderr.lower()
    saved = json.loads((out / "s.json").read_text())  # scored exactly as --score does
    assert (out / "summary.csv").is_file() and saved["speakers"]["method"] == "channel"
    assert "horizon seems extremely distant" in json.dumps(saved).lower()


def test_live_without_a_microphone_says_so_in_one_line(tmp_path):
    sd = pytest.importorskip("sounddevice")
    if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        pytest.skip("this machine has a microphone")
    result = CliRunner().invoke(main, ["record", "--out", str(tmp_path / "s.wav"), "--live"], input="\n")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: no microphone to record from")
    assert "Live practice" not in result.stderr


def test_live_with_an_enrolled_voice_anchors_the_counsellor_on_it(tmp_path, monkeypatch):
    voice = embed_voice(load_audio(TEST_DATA / "jfk.flac").mono())
    np.save(tmp_path / "alex.npy", voice)
    roles = default_roles(LiveOptions(counsellor_voice=str(tmp_path / "alex.npy")), channels=1)
    assert isinstance(roles, VoiceRoles) and "enrolled voice" in roles.note
    assert np.allclose(roles.voices[Role.COUNSELLOR], voice)
    assert isinstance(default_roles(LiveOptions(counsellor_voice=str(tmp_path / "alex.npy")), channels=2), ChannelRoles)
    # An unknown name stops before the microphone opens, in one line.
    opened = []
    monkeypatch.setattr(recorder, "open_microphone", opener(np.zeros((16000, 1), np.float32), opened=opened))
    args = ["record", "--out", str(tmp_path / "s.wav"), "--live", "--counsellor-voice", "nobody"]
    result = CliRunner().invoke(main, args, input="\n")
    assert result.exit_code == 1 and not opened
    assert result.stderr.strip().splitlines()[-1].startswith("Error: no enrolled voice or file 'nobody'")
    assert "Live practice" not in result.stderr
