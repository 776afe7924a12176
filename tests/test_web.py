"""The app's HTTP routes: the sign-in cookie, recordings only for those allowed, Streamlit's media guarded."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from trainer.app import signin, web
from trainer.batch.output import session_to_dict
from trainer.pipeline import run_session


@pytest.fixture
def client(store, monkeypatch) -> TestClient:
    """The routes of trainer.app.web, and a stand-in for Streamlit's media files, on the store's data directory."""
    monkeypatch.setenv("TRAINER_DATA_DIR", str(store.data_dir))
    web._store.cache_clear()
    media = Route("/media/{name}", lambda request: PlainTextResponse("media bytes"))
    app = Starlette(routes=[*web.ROUTES, media], middleware=[Middleware(web.MediaGuard)])
    yield TestClient(app)
    web._store.cache_clear()


@pytest.fixture
def recording(store, people, transcript_csv, stereo_path) -> int:
    """ann's session with its recording; its id."""
    incoming = store.incoming_dir / "upload.wav"
    incoming.write_bytes(stereo_path.read_bytes())
    document = session_to_dict(run_session(transcript_csv))
    return store.add_session(people["ann"], "week1.wav", document, "a" * 64, audio=incoming).id


def cookie_for(client: TestClient, store, user) -> str:
    """Sign in as the browser does: exchange the page's ticket for the cookie."""
    client.cookies.clear()
    ticket = signin.ticket(store, signin.issue(store, user))
    response = client.post("/api/sign-in", content=ticket)
    assert response.status_code == 204
    return response.cookies[signin.COOKIE]


def test_a_ticket_becomes_an_http_only_cookie_once(client, store, people):
    ticket = signin.ticket(store, signin.issue(store, people["ann"]))
    response = client.post("/api/sign-in", content=ticket)
    assert response.status_code == 204
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and f"max-age={signin.TOKEN_LIFETIME_S}" in header
    assert signin.user_for(store, response.cookies[signin.COOKIE]) == people["ann"]
    assert client.post("/api/sign-in", content=ticket).status_code == 403  # used
    assert client.post("/api/sign-in", content="forged").status_code == 403


def test_a_recording_reaches_only_those_who_may_open_its_session(client, store, people, recording, stereo_path):
    url = f"/api/recording/{recording}"
    client.cookies.clear()
    assert client.get(url).status_code == 404
    for name in ("bob", "olga"):
        client.cookies.set(signin.COOKIE, cookie_for(client, store, people[name]))
        assert client.get(url).status_code == 404
    for name in ("ann", "ivy"):
        client.cookies.set(signin.COOKIE, cookie_for(client, store, people[name]))
        response = client.get(url)
        assert response.status_code == 200 and response.content == stereo_path.read_bytes()
        assert response.headers["cache-control"] == "private, no-store"
    part = client.get(url, headers={"Range": "bytes=0-99"})  # the player seeks with ranges
    assert part.status_code == 206 and part.content == stereo_path.read_bytes()[:100]
    for bad in ("999", "abc", "99999999999999999999", "-1"):
        assert client.get(f"/api/recording/{bad}").status_code == 404


def test_signing_out_revokes_the_cookie(client, store, people, recording):
    cookie = cookie_for(client, store, people["ann"])
    client.cookies.set(signin.COOKIE, cookie)
    response = client.post("/api/sign-out")
    assert response.status_code == 204 and 'trainer_session=""' in response.headers["set-cookie"]
    assert signin.user_for(store, cookie) is None
    client.cookies.set(signin.COOKIE, cookie)  # a copy kept elsewhere
    assert client.get(f"/api/recording/{recording}").status_code == 404


def test_streamlit_media_needs_a_sign_in(client, store, people):
    client.cookies.clear()
    assert client.get("/media/abc123.oga").status_code == 403
    client.cookies.set(signin.COOKIE, "forged")
    assert client.get("/media/abc123.oga").status_code == 403
    client.cookies.set(signin.COOKIE, cookie_for(client, store, people["bob"]))
    assert client.get("/media/abc123.oga").text == "media bytes"
