"""Recording from a microphone, with a fake input stream (these machines have no microphone)."""

import sys
import threading
import time

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from tests.conftest import TEST_DATA
from trainer.cli import main
from trainer.errors import RecordingError
from trainer.speech import record as recorder
from trainer.speech.record import FLOOR_DB, RecordOptions, level_db, meter, record


class FakeStream:
    """Plays a signal into the callback in 100 ms blocks, as PortAudio does.

    In real time it plays from its own thread; otherwise every block is delivered
    before the constructor returns, so a test does not depend on timing.
    """

    def __init__(self, signal, samplerate, callback, realtime):
        self.samplerate = float(samplerate)
        self.stopped = self.closed = False
        blocks = np.array_split(signal, max(1, len(signal) // (samplerate // 10)))
        self._thread = threading.Thread(target=self._play, args=(blocks, callback, realtime), daemon=True)
        if realtime:
            self._thread.start()
        else:
            self._play(blocks, callback, realtime)

    def _play(self, blocks, callback, realtime):
        for block in blocks:
            if self.stopped:
                return
            callback(block, len(block), None, None)
            if realtime:
                time.sleep(len(block) / self.samplerate)

    def stop(self):
        self.stopped = True
        if self._thread.is_alive():
            self._thread.join()

    def close(self):
        self.closed = True


def opener(signal, rate=16000, realtime=False, opened=None):
    """A stand-in for open_microphone that plays `signal` (frames x channels) at `rate`."""

    def open_stream(*, samplerate, channels, callback):
        stream = FakeStream(signal[:, :channels], samplerate or rate, callback, realtime)
        if opened is not None:
            opened.append(stream)
        return stream

    return open_stream


def tone(seconds, amplitude=0.1, samplerate=16000, channels=1):
    t = np.arange(int(seconds * samplerate)) / samplerate
    wave = (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def test_records_until_stopped_and_reports_levels(tmp_path):
    stop = threading.Event()
    levels = []

    def on_level(db, elapsed):
        levels.append((db, elapsed))
        if elapsed >= 1.0:
            stop.set()

    opened = []
    done = record(tmp_path / "s.wav", stop, on_level=on_level, open_stream=opener(tone(5), 16000, True, opened))
    assert opened[0].stopped and opened[0].closed
    data, rate = soundfile.read(done.path, dtype="float32")
    assert rate == done.samplerate == 16000 and done.channels == 1
    assert 1.0 <= done.duration_s == len(data) / rate < 2.0
    assert np.allclose(data, tone(5)[: len(data), 0], atol=1e-4)  # what was played, in order, 16-bit exact
    assert levels[-1][0] == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.5)
    assert [e for _, e in levels] == sorted(e for _, e in levels)


def test_max_length_and_stereo_at_the_device_rate(tmp_path):
    done = record(
        tmp_path / "s.flac",
        threading.Event(),
        RecordOptions(channels=2, max_s=1.0),
        open_stream=opener(tone(3, samplerate=44100, channels=2), 44100),
    )
    info = soundfile.info(done.path)
    assert (info.samplerate, info.channels, info.format) == (44100, 2, "FLAC")
    assert info.duration == 1.0


def test_ctrl_c_keeps_what_was_recorded(tmp_path):
    def on_level(db, elapsed):
        if elapsed >= 0.5:
            raise KeyboardInterrupt

    done = record(tmp_path / "s.wav", threading.Event(), on_level=on_level, open_stream=opener(tone(5), 16000, True))
    assert 0.5 <= soundfile.info(done.path).duration < 1.5


def test_level_and_meter():
    assert level_db(np.zeros(1600, np.float32)) == FLOOR_DB
    assert level_db(np.ones(1600, np.float32)) == pytest.approx(0.0)
    assert meter(-30.0, 75.4) == f"[{'#' * 15}{'-' * 15}]   -30 dB  01:15"


def test_without_portaudio_the_message_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(RecordingError, match="needs PortAudio: install libportaudio2"):
        record(tmp_path / "s.wav", threading.Event())


def test_without_an_input_device_recording_fails_cleanly(monkeypatch, tmp_path):
    sd = pytest.importorskip("sounddevice")

    def no_device(**kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "InputStream", no_device)
    with pytest.raises(RecordingError, match="no microphone to record from"):
        record(tmp_path / "s.wav", threading.Event())
    assert not (tmp_path / "s.wav").exists()


def test_cli_records_until_enter(monkeypatch, tmp_path):
    monkeypatch.setattr(recorder, "open_microphone", opener(tone(30), 16000, True))
    result = CliRunner().invoke(main, ["record", "--out", str(tmp_path / "s.wav")], input="\n")
    assert result.exit_code == 0, result.output
    assert "press Enter or Ctrl-C" in result.stderr and "recorded" in result.stderr
    assert soundfile.info(tmp_path / "s.wav").duration < 5


def test_cli_without_a_microphone_exits_non_zero_with_one_line(monkeypatch, tmp_path):
    sd = pytest.importorskip("sounddevice")
    if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        pytest.skip("this machine has a microphone")
    result = CliRunner().invoke(main, ["record", "--out", str(tmp_path / "s.wav")], input="\n")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: no microphone to record from")


def test_cli_scores_the_recording(monkeypatch, tmp_path):
    stereo = soundfile.read(TEST_DATA / "stereo_diarization.wav", dtype="float32", always_2d=True)[0]
    monkeypatch.setattr(recorder, "open_microphone", opener(stereo, 16000))
    out = tmp_path / "out"
    args = ["record", "--out", str(tmp_path / "s.wav"), "--channels", "2", "--score", "--score-out", str(out)]
    result = CliRunner().invoke(main, args, input="\n")
    assert result.exit_code == 0, result.output
    assert (out / "summary.csv").is_file()
    assert "horizon seems extremely distant" in (out / "s.json").read_text().lower()
    assert f"Full result: {out / 's.json'}" in result.stdout and "Reflections per question" in result.stdout
