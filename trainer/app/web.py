"""The app's HTTP side, beside Streamlit's: the sign-in cookie, recordings, the scoring worker.

`serve.py` mounts these on Streamlit's own server (`st.App`), which `trainer app` runs:

    POST /api/sign-in         a ticket from the signed-in page -> the HTTP-only session cookie
    POST /api/sign-out        revokes the cookie's token and deletes the cookie
    GET  /api/recording/ID    a session's recording, only to those allowed to open the session

Streamlit serves every other file it shows (downloads, charts) under `/media/`, at URLs it
does not tie to a user; `MediaGuard` refuses those to requests without a valid sign-in
cookie, so a copied URL is useless to anyone not signed in.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from trainer.app import jobs, signin
from trainer.app.accounts import User
from trainer.app.store import Store, default_data_dir
from trainer.errors import AccessDenied

RECORDING_PATH = "api/recording/{session_id}"  # relative to the app's URL
_serving = False  # whether these routes are mounted in this process (not under AppTest or plain `streamlit run`)


def serving() -> bool:
    """Whether the app runs on the server these routes belong to."""
    return _serving


@functools.cache
def _store() -> Store:
    return Store(default_data_dir().resolve())


def signed_in(request: Request) -> User | None:
    """The user the request's cookie signs in, if any."""
    return signin.user_for(_store(), request.cookies.get(signin.COOKIE))


async def sign_in(request: Request) -> Response:
    """Exchange a one-use ticket for the session cookie (scripts cannot read it: HttpOnly)."""
    token = await run_in_threadpool(signin.claim, _store(), (await request.body()).decode("ascii", "replace"))
    if token is None:
        return PlainTextResponse("sign-in ticket not valid", status_code=403)
    response = Response(status_code=204)
    response.set_cookie(
        signin.COOKIE,
        token,
        max_age=signin.TOKEN_LIFETIME_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def sign_out(request: Request) -> Response:
    """Revoke the cookie's token (wherever it was copied) and delete the cookie."""
    signin.revoke(_store(), request.cookies.get(signin.COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(signin.COOKIE, httponly=True, samesite="strict")
    return response


def recording(request: Request) -> Response:
    """A session's recording for a viewer the store allows; 404 for everyone else, as for no session."""
    user = signed_in(request)
    raw = request.path_params["session_id"]
    if user is None or not raw.isdigit() or len(raw) > 18:
        return PlainTextResponse("no such recording", status_code=404)
    store = _store()
    try:
        path = store.audio_file(store.session(user, int(raw)))
    except AccessDenied:
        path = None
    if path is None or not path.is_file():
        return PlainTextResponse("no such recording", status_code=404)
    return FileResponse(path, headers={"Cache-Control": "private, no-store"})


class MediaGuard:
    """Refuses Streamlit's media files (downloads, recordings) to requests that are not signed in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything on, except a media request without a valid sign-in cookie."""
        if scope["type"] == "http" and scope["path"].startswith("/media/"):
            if await run_in_threadpool(signed_in, Request(scope)) is None:
                await PlainTextResponse("sign in to open this file", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Mark the routes as served and start the scoring worker (it resumes unfinished jobs)."""
    global _serving
    _serving = True
    jobs.worker_for(_store())
    yield
    jobs.stop_workers(timeout_s=5)


ROUTES = [
    Route("/api/sign-in", sign_in, methods=["POST"]),
    Route("/api/sign-out", sign_out, methods=["POST"]),
    Route("/" + RECORDING_PATH, recording),
]
