"""The real thing: `streamlit run app.py` in a headless Chromium, upload a recording, read its feedback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainer.app.accounts import register
from trainer.app.store import Store
from trainer.speech.audio import AUDIO_EXTENSIONS, load_audio

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/install; `playwright install` cannot download here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
START_TIMEOUT_S = 30
MAX_SAMPLE_S = 60  # longer samples would keep the test from finishing in about a minute
SCORE_TIMEOUT_MS = 120_000  # Whisper on a short clip, on a busy 2-core machine

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/install)")


def sample_recording() -> Path:
    """The shortest two-voice stereo sample role play if one is short enough, else the two-speaker test clip."""
    stereo = {}
    for path in sorted((REPO / "sample_audio").glob("*")):
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            audio = load_audio(path)
            if audio.channels_differ() and audio.duration_s <= MAX_SAMPLE_S:
                stereo[path] = audio.duration_s
    if stereo:
        return min(stereo, key=stereo.get)
    return REPO / "tests" / "data" / "stereo_diarization.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path) -> Iterator[str]:
    """A Streamlit server on a free port with a fresh data directory holding one trainee."""
    data = tmp_path / "data"
    register(Store(data), "ann", "trainee", "spring", "password1")
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true"]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "TRAINER_DATA_DIR": str(data)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the Streamlit server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_upload_a_recording_and_read_its_feedback(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    recording = sample_recording()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(app_url)
            page.get_by_label("User name").fill("ann")
            page.get_by_role("textbox", name="Password").fill("password1")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Upload a file").click()
            page.locator("input[type=file]").set_input_files(recording)
            page.get_by_role("button", name="Score session").click()
            # Streamlit draws after the load event: wait for the page's last element first.
            expect(page.get_by_role("button", name="Printable report")).to_be_visible(timeout=SCORE_TIMEOUT_MS)
            feedback = page.locator(".st-key-feedback")
            expect(feedback).to_be_visible()
            expect(feedback).to_contain_text("Feedback")
            expect(feedback).to_contain_text("To practise next")
            expect(page.locator("h1").first).to_have_text(recording.name)
            expect(page.get_by_text("Your talk time")).to_be_visible()
            expect(page.locator("[data-testid=stException]")).to_have_count(0)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
