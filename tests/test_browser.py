"""The real thing: the app's server (`serve.py`) in a headless Chromium, as trainees and instructors use it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import TEST_DATA
from tests.test_app_voices import counsellor_of, score_unsure
from trainer.app.accounts import register
from trainer.app.store import Store
from trainer.app.voices import CLIP_S, profile_path
from trainer.batch.output import session_to_dict
from trainer.pipeline import run_session
from trainer.speech.audio import AUDIO_EXTENSIONS, load_audio

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/install; `playwright install` cannot download here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
START_TIMEOUT_S = 30
MAX_SAMPLE_S = 60  # longer samples would keep the test from finishing in about a minute
SCORE_TIMEOUT_MS = 300_000  # Whisper on a short clip (or the first coder load), on a busy 2-core machine
PAGE_TIMEOUT_MS = 30_000  # a page drawn by a busy server

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
def data_dir(tmp_path) -> Path:
    """A data directory with a trainee, ann, and her instructor, ivy."""
    store = Store(tmp_path / "data")
    register(store, "ann", "trainee", "spring", "password1")
    register(store, "ivy", "instructor", "spring", "password1")
    return store.data_dir


@pytest.fixture
def app_url(data_dir) -> Iterator[str]:
    """`streamlit run trainer/app/serve.py` (what `trainer app` runs) on a free port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "trainer" / "app" / "serve.py"),
        "--server.headless",
        "true",
    ]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "TRAINER_DATA_DIR": str(data_dir)},
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


@pytest.fixture
def browser(tmp_path) -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def ann_session(data_dir, transcript_csv) -> int:
    """A stored session of ann's with a recording long enough for every utterance's time; its id."""
    store = Store(data_dir)
    ann = store.credentials("ann")[0]
    incoming = store.incoming_dir / "upload.flac"
    incoming.write_bytes((REPO / "sample_audio" / "weak_mono.flac").read_bytes())
    document = session_to_dict(run_session(transcript_csv))
    return store.add_session(ann, "week1.wav", document, "a" * 64, audio=incoming).id


def open_page(browser, url: str, width: int = 1400):
    """A page on the app in a fresh browser context (its own cookies; `page.context` opens more tabs)."""
    page = browser.new_context(viewport={"width": width, "height": 1000}).new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url)
    return page


def sign_in(page, name: str) -> None:
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill("password1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    wait_for_cookie(page, True)  # the browser fetches it right after the signed-in page is drawn


def wait_for_cookie(page, present: bool) -> None:
    """Wait until the HTTP-only sign-in cookie is set (or gone): the page asks for it in a request of its own."""
    deadline = time.monotonic() + 10
    while any(c["name"] == "trainer_session" for c in page.context.cookies()) != present:
        assert time.monotonic() < deadline, f"the sign-in cookie was {'never set' if present else 'not removed'}"
        page.wait_for_timeout(100)


def settle(page) -> None:
    """Wait until the app has finished the run a click started (Streamlit shows a status widget meanwhile)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')")


def upload(page, path: Path) -> None:
    page.get_by_text("Upload a file").click()
    page.locator("input[type=file]").set_input_files(path)
    # The uploader shows long names cut in the middle; the end is enough to know the new file is in.
    page.locator("[data-testid=stFileUploader]").get_by_text(path.name[-8:]).wait_for()
    settle(page)
    page.get_by_role("button", name="Score session").click()
    settle(page)


def status(url: str) -> int:
    """The HTTP status of a GET without any cookie."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@contextmanager
def screenshot_on_failure(page, tmp_path: Path) -> Iterator[None]:
    """Leave a picture of the page in the test's folder when what follows fails."""
    try:
        yield
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_sign_in_survives_reload_and_new_tabs_until_sign_out(app_url, browser, ann_session, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, app_url)
    context = page.context
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ann")
        cookie = next(c for c in context.cookies() if c["name"] == "trainer_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie").find("trainer_session") == -1  # scripts cannot read it
        page.reload()
        expect(page.get_by_role("heading", name="Practise")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

        # A link to a session, opened in a new tab: signed in, on that session, its recording playable.
        tab = context.new_page()
        tab.set_default_timeout(PAGE_TIMEOUT_MS)
        tab.goto(f"{app_url}/?session={ann_session}")
        expect(tab.locator("h1").first).to_have_text("week1.wav")
        recording = f"{app_url}/api/recording/{ann_session}"
        expect(tab.locator("audio")).to_have_attribute("src", recording, timeout=5000)
        assert tab.request.get(recording).status == 200
        assert status(recording) == 404  # not to anyone without the cookie
        media = [tab.locator("audio").get_attribute("src")]
        tab.close()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        wait_for_cookie(page, False)  # the page's request that deletes it
        page.reload()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert page.request.get(media[0]).status == 404


def test_a_session_link_opens_after_signing_in(app_url, browser, ann_session, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, f"{app_url}/?session={ann_session}")
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ivy")
        expect(page.locator("h1").first).to_have_text("week1.wav")
        expect(page.get_by_role("tab", name="Review")).to_be_visible()


def test_feedback_shows_an_expert_answer_and_loads_nothing_from_elsewhere(app_url, browser, ann_session, tmp_path):
    """The expert example beside the trainee's words; every request (fonts, favicon) stays on the app's server."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(f"{app_url}/?session={ann_session}")
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ann")
        examples = page.locator(".st-key-expert-examples")
        expect(examples.get_by_text("What an experienced counsellor said at a similar moment")).to_be_visible()
        expect(examples.get_by_text("Do you drink every day?")).to_be_visible()
        expect(examples.get_by_text("Complex reflection").first).to_be_visible()
        expect(examples.get_by_text(re.compile(r"AnnoMI session \d+"))).not_to_have_count(0)
        settle(page)
        favicon = page.locator("link[rel~=icon]").first.get_attribute("href")
        assert favicon.startswith(f"{app_url}/media/") and favicon.endswith(".png")  # the shipped favicon.png
        assert any(u.startswith(f"{app_url}/static/media/SourceSans") for u in requested)  # fonts from the app
        elsewhere = [u for u in requested if not u.startswith((app_url, "data:", "blob:"))]
        assert elsewhere == []


def test_thirty_wrong_passwords_then_the_right_one_is_held_up(app_url, browser, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, app_url)
    with screenshot_on_failure(page, tmp_path):
        for attempt in range(30):
            page.get_by_label("User name").fill("ann")
            page.get_by_role("textbox", name="Password").fill(f"not-the-password-{attempt}")
            page.get_by_role("button", name="Sign in").click()
            settle(page)
            expect(page.get_by_text(re.compile("wrong user name or password|too many failed"))).to_be_visible()
        page.get_by_role("textbox", name="Password").fill("password1")
        page.get_by_role("button", name="Sign in").click()
        settle(page)
        expect(page.get_by_text(re.compile("too many failed sign-ins: try again in"))).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def open_scored(page, name: str) -> None:
    """Click Open on the newest scored job of that name (earlier tests' jobs are listed too)."""
    page.locator("[class*=st-key-scored-job-]", has_text=f"{name} is scored.").first.get_by_role(
        "button", name="Open"
    ).click()


def test_upload_leave_and_come_back_to_a_finished_session(app_url, browser, transcript_csv, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, app_url)
    context = page.context
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ann")
        upload(page, transcript_csv)
        expect(page.get_by_text("is saved and queued for scoring")).to_be_visible()
        page.close()  # the trainee leaves before scoring ends
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.goto(app_url)
        expect(page.get_by_text(f"{transcript_csv.name} is scored.")).to_be_visible(timeout=SCORE_TIMEOUT_MS)
        open_scored(page, transcript_csv.name)
        expect(page.locator("h1").first).to_have_text(transcript_csv.name)
        expect(page.locator(".st-key-feedback")).to_contain_text("To practise next")


def test_two_uploads_queue_and_a_recording_is_scored(app_url, browser, transcript_csv, tmp_path):
    from playwright.sync_api import expect

    recording = sample_recording()
    page = open_page(browser, app_url)
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ann")
        upload(page, recording)
        expect(page.get_by_text(re.compile(rf"{re.escape(recording.name)}: (Reading|Transcribing)"))).to_be_visible()
        upload(page, transcript_csv)
        expect(page.get_by_text(f"{transcript_csv.name}: waiting, 2nd in the queue, 1 ahead of it")).to_be_visible()
        expect(page.get_by_text(re.compile(r"\d:\d\d elapsed"))).to_be_visible()
        # The page opens the last upload's feedback once it is scored, after the recording.
        expect(page.locator("h1").first).to_have_text(transcript_csv.name, timeout=SCORE_TIMEOUT_MS)
        page.get_by_role("radio", name="My sessions").check(force=True)
        # The page's own title, not the sidebar's label: clicking on before this page is drawn
        # sends the address the browser still has, with the session open in it.
        expect(page.locator("h1").first).to_have_text("My sessions")
        page.get_by_text("Practise", exact=True).first.click()
        expect(page.get_by_text(f"{recording.name} is scored.")).to_be_visible()
        open_scored(page, recording.name)
        expect(page.locator("h1").first).to_have_text(recording.name)
        expect(page.locator(".st-key-feedback")).to_contain_text("Feedback")
        expect(page.get_by_text("Your talk time").first).to_be_visible()  # card label; st.metric keeps a hidden copy
        expect(page.locator("[data-testid=stException]")).to_have_count(0)


def test_instructor_plays_a_row_and_corrects_its_code(app_url, browser, ann_session, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, f"{app_url}/?session={ann_session}")
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ivy")
        expect(page.locator("h1").first).to_have_text("week1.wav")
        row = page.locator(".stChatMessage").nth(4)  # "Do you drink every day?" at 0:18
        expect(row).to_contain_text("Do you drink every day?")
        row.get_by_role("button", name="0:18").click()
        settle(page)
        player = page.locator("[data-testid=stSidebar] audio")
        expect(player).to_have_attribute("src", f"{app_url}/api/recording/{ann_session}")
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar] audio').currentTime >= 18")
        row.get_by_text("Open question", exact=True).click()  # the code pill under the turn
        settle(page)
        expect(page.get_by_text("Corrected by ivy; the machine said Closed question.")).to_be_visible()
        expect(page.locator("[data-testid=stMetric]", has_text="Open questions")).to_contain_text("100%")


def open_my_sessions(page) -> None:
    """Click "My sessions" in the sidebar, opening the sidebar first on a narrow screen, and close it again."""
    narrow = page.get_by_test_id("stExpandSidebarButton").is_visible()  # the sidebar is collapsed
    if narrow:
        page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_text("My sessions", exact=True).first.click()
    settle(page)
    if narrow:
        page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
    page.get_by_role("heading", name="My sessions").wait_for()
    settle(page)


def test_progress_after_two_sessions_and_screenshots(app_url, browser, transcript_csv, tmp_path):
    """Also writes screenshots of every page at 1400 and 390 px into $TRAINER_SCREENSHOTS (or a temporary folder)."""
    from playwright.sync_api import expect

    shots = Path(os.environ.get("TRAINER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    week2 = tmp_path / "week2.csv"  # this time the closed question is a reflection
    week2.write_text(transcript_csv.read_text().replace("Do you drink every day?", "You drink most days."))
    page = open_page(browser, app_url)
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ann")
        for transcript in (transcript_csv, week2):
            upload(page, transcript)
            expect(page.locator("h1").first).to_have_text(transcript.name, timeout=SCORE_TIMEOUT_MS)
            page.get_by_role("button", name="Back").click()
            settle(page)
        pages = {"practise": page.url}
        page.get_by_text("My sessions", exact=True).first.click()
        settle(page)
        expect(page.get_by_text(re.compile(r"Reflections per question: .* over your last 2 sessions"))).to_be_visible()
        pages["my-sessions"] = page.url
        page.locator(".st-key-history_open button").click()
        expect(page.locator("h1").first).to_have_text("week2.csv")
        pages["feedback"] = page.url
        for width in (1400, 390):
            page.set_viewport_size({"width": width, "height": 1000})
            for name, url in pages.items():
                page.goto(url)
                page.get_by_role("heading").first.wait_for()
                settle(page)
                if name == "my-sessions":  # a page of the sidebar, not of the URL
                    open_my_sessions(page)
                # Streamlit scrolls inside its main area: make the window as tall as that to capture it all.
                height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
                page.set_viewport_size({"width": width, "height": max(height, 1000)})
                settle(page)
                page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
                page.set_viewport_size({"width": width, "height": 1000})
                if name == "feedback":  # readable on a phone: nothing wider than the screen
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.emulate_media(color_scheme="dark")  # Streamlit follows the system's theme
        for name in ("feedback", "my-sessions"):
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.goto(pages[name])
            page.get_by_role("heading").first.wait_for()
            settle(page)
            if name == "my-sessions":
                open_my_sessions(page)
            height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
            page.set_viewport_size({"width": 1400, "height": max(height, 1000)})
            settle(page)
            page.screenshot(path=str(shots / f"{name}-dark-1400.png"), full_page=True)
        assert len(list(shots.glob("*.png"))) == 8


@pytest.fixture
def unsure_id(data_dir, tmp_path) -> int:
    """ann's unsure two-voice session (`score_unsure`), stored with its recording; its id."""
    store = Store(data_dir)
    document, audio = score_unsure(tmp_path)
    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes(audio)
    return store.add_session(store.credentials("ann")[0], "unsure.wav", document, "d" * 64, audio=incoming).id


def clip_seconds(clip, timeout_s: float = 30.0) -> float:
    """An audio element's length once the browser has read it.

    Polled rather than awaited in the page: an element drawn again, or a clip that fails to
    load, never fires `loadedmetadata`, and a promise waiting for it hung the test run.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seconds = clip.evaluate("a => a.readyState >= 1 ? a.duration : null")
        if seconds:
            return seconds
        time.sleep(0.2)
    raise AssertionError(f"the clip did not load within {timeout_s:.0f} s")


def test_trainee_hears_each_voice_picks_theirs_and_saves_their_voice(app_url, browser, data_dir, unsure_id, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, f"{app_url}/?session={unsure_id}")

    def late(route) -> None:  # the cookie lands after the players asked for their clips, as on a slow network
        time.sleep(2)
        route.continue_()

    page.route("**/api/sign-in", late)
    with screenshot_on_failure(page, tmp_path):
        sign_in(page, "ann")
        picker = page.locator(".st-key-voice_picker")
        expect(picker.get_by_text("Which one is you?")).to_be_visible()
        clips = picker.locator("audio")
        expect(clips).to_have_count(2)
        for i in range(2):  # each clip is served to the signed-in browser and is a few seconds long
            assert 1.0 < clip_seconds(clips.nth(i)) <= CLIP_S + 0.1

        store = Store(data_dir)
        ann = store.credentials("ann")[0]
        first = counsellor_of(store.session(ann, unsure_id).document)
        picker.get_by_role("button", name="This is me").nth(1).click()
        settle(page)
        expect(page.get_by_text("Which one is you?")).to_have_count(0)
        assert counsellor_of(store.session(ann, unsure_id).document) != first

        page.get_by_role("button", name="Back").click()
        page.get_by_role("radio", name="My voice").check(force=True)
        expect(page.get_by_role("heading", name="My voice")).to_be_visible()
        page.get_by_text("Upload a file").click()
        page.locator("input[type=file]").set_input_files(TEST_DATA / "jfk.flac")
        page.locator("[data-testid=stFileUploader]").get_by_text("jfk.flac").wait_for()
        settle(page)
        page.get_by_role("button", name="Save my voice").click()
        expect(page.get_by_text("Your voice is saved")).to_be_visible()
        assert profile_path(store, ann).is_file()
