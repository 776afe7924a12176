"""The Live page in a real browser: Chromium's fake microphone plays a sample role play."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.conftest import SAMPLES
from tests.test_browser import (  # noqa: F401 - app_url and data_dir are fixtures
    CHROMIUM,
    CHROMIUM_ARGS,
    app_url,
    data_dir,
    open_page,
    screenshot_on_failure,
    sign_in,
)
from trainer.app.ui.live import REFUSED
from trainer.speech.audio import load_audio
from trainer.vocabulary import CODE_LABELS

CODES_TIMEOUT_MS = 300_000  # models load, then the first utterances are coded, on a busy 2-core machine
SCORE_TIMEOUT_MS = 600_000  # a 65-s single-microphone take is diarized and scored; minutes on a shared machine

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/install)")


def coded_count(text: str) -> int:
    """Sum of the five code counts shown on the panel."""
    return sum(int(m.group(1)) for label in CODE_LABELS.values() for m in re.finditer(rf"{label}\s+(\d+)", text))


def read_count(panel) -> int:
    """The panel's code count now, checking that no count is shown twice.

    A redraw once left a row of the figures' old place beside the new one (two "Open question"
    counts) when a status line came or went above them.
    """
    text = panel.inner_text()
    for label in CODE_LABELS.values():
        assert len(re.findall(rf"{label}\s+\d", text)) <= 1, f"{label} shown twice: {text!r}"
    return coded_count(text)


def count_once(page, panel, wanted) -> int:
    """The panel's code count once `wanted(count)` holds, or the last one read when time runs out.

    Each read is judged on its own, never a second read after it: a grown utterance coded anew
    can move from one code to another, and a read in the middle of a redraw may see one count
    already new and the other still old, so the sum can dip for a moment (CI once read 1 right
    after 2, before a grown utterance kept its code while coded again).
    """
    count, waited_ms = read_count(panel), 0
    while not wanted(count) and waited_ms < CODES_TIMEOUT_MS:
        page.wait_for_timeout(250)
        waited_ms += 250
        count = read_count(panel)
    return count


def start_live(page):
    """Sign in as a trainee, choose Live on Practise and press the component's Start."""
    sign_in(page, "ann")
    page.get_by_text("Live", exact=True).click()
    component = page.frame_locator("iframe[title*='webrtc']")
    component.get_by_role("button", name="Start").click()
    return component


def test_live_page_counts_rise_while_talking_then_the_take_is_scored(app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    mic = tmp_path / "mic.wav"
    audio = load_audio(SAMPLES / "weak_mono.flac")
    soundfile.write(mic, np.concatenate([audio.mono(), np.zeros(16000, np.float32)]), 16000, subtype="PCM_16")
    args = CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = open_page(browser, app_url)
        try:
            with screenshot_on_failure(page, tmp_path):
                component = start_live(page)
                panel = page.locator(".st-key-live_panel")
                expect(panel).to_contain_text("first voice heard", timeout=CODES_TIMEOUT_MS)
                first = count_once(page, panel, lambda n: n >= 1)
                later = count_once(page, panel, lambda n: n > first)
                assert first >= 1 and later > first  # the counts rose during playback
                assert "rough guess" in panel.inner_text()  # one microphone: the talk share is marked rough
                # Five counts and three ratios: no stale row left over from an earlier redraw.
                expect(panel.locator("[data-testid=stMetric]")).to_have_count(len(CODE_LABELS) + 3)
                if os.environ.get("LIVE_SCREENSHOT"):  # the README's picture of the page
                    page.screenshot(path=os.environ["LIVE_SCREENSHOT"], full_page=True)
                component.get_by_role("button", name="Stop and score").click()
                expect(page.get_by_role("button", name="Printable report")).to_be_visible(timeout=SCORE_TIMEOUT_MS)
                expect(page.locator("h1").first).to_contain_text("Live")
                expect(page.locator(".st-key-feedback")).to_contain_text("Feedback")
                expect(page.locator("[data-testid=stException]")).to_have_count(0)
        finally:
            browser.close()


def test_live_page_with_microphone_permission_denied_says_so_in_one_line(app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    # A fake microphone exists, but no permission is granted, so the browser refuses it.
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream"]
        )
        page = open_page(browser, app_url)
        try:
            with screenshot_on_failure(page, tmp_path):
                component = start_live(page)
                expect(component.get_by_text("Permission denied")).to_be_visible()  # the browser's refusal
                expect(page.get_by_text(REFUSED)).to_be_visible()  # and what to do about it
                expect(page.locator(".st-key-live_panel")).to_have_count(0)
                expect(page.locator("[data-testid=stException]")).to_have_count(0)
        finally:
            browser.close()
