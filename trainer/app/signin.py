"""Sign-in that survives a reload: signed, expiring tokens kept in an HTTP-only cookie.

After a password sign-in the app issues a token: a random id stored in `sign_ins`, signed
with a secret that lives in the data directory (`signing.key`, readable by its owner only).
The page hands the browser a one-minute, one-use *ticket* for it; the server exchanges the
ticket for the cookie (`trainer.app.web`), so the token itself never appears in the page and
scripts cannot read it. Every later page load (reload, new tab, a `?session=ID` link) sends
the cookie, and `user_for` turns it back into the user while it is signed, unexpired, not
revoked, and the account still exists. Signing out revokes it in the store.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from trainer.app.accounts import User, UserRole
from trainer.app.store import Store

COOKIE = "trainer_session"
SECRET_FILE = "signing.key"
TOKEN_LIFETIME_S = 7 * 24 * 3600  # a week of practice without signing in again
TICKET_LIFETIME_S = 60  # from the page that was signed in to the browser fetching its cookie
_TOKEN_SALT = "trainer-sign-in"
_TICKET_SALT = "trainer-sign-in-ticket"


def signing_secret(data_dir: Path) -> bytes:
    """The data directory's signing secret, created on first use with owner-only permissions."""
    path = Path(data_dir) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    secret = secrets.token_hex(32).encode("ascii")
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
        f.flush()
        os.fsync(f.fileno())
    return secret


def _serializer(store: Store, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_secret(store.data_dir), salt=salt)


def issue(store: Store, user: User, lifetime_s: float = TOKEN_LIFETIME_S) -> str:
    """A new signed token for a user who has just proved who they are."""
    token_id = secrets.token_urlsafe(24)
    created = time.time()
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO sign_ins (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (token_id, user.id, created, created + lifetime_s),
        )
    return _serializer(store, _TOKEN_SALT).dumps(token_id)


def ticket(store: Store, token: str) -> str:
    """A one-use, one-minute ticket the browser exchanges for the token's cookie."""
    return _serializer(store, _TICKET_SALT).dumps(token)


def claim(store: Store, ticket_text: str) -> str | None:
    """The token a ticket stands for, once: None if forged, expired or already used."""
    try:
        token = _serializer(store, _TICKET_SALT).loads(ticket_text, max_age=TICKET_LIFETIME_S)
        token_id = _serializer(store, _TOKEN_SALT).loads(token)
    except BadSignature:
        return None
    with store.transaction() as conn:
        used = conn.execute("UPDATE sign_ins SET claimed = 1 WHERE id = ? AND claimed = 0", (token_id,))
    return token if used.rowcount == 1 and user_for(store, token) is not None else None


def _token_id(store: Store, token: str) -> str | None:
    try:
        return _serializer(store, _TOKEN_SALT).loads(token, max_age=TOKEN_LIFETIME_S)
    except BadSignature:  # also an expired signature
        return None


def user_for(store: Store, token: str | None, now: float | None = None) -> User | None:
    """The user a cookie's token signs in, or None (forged, expired, signed out, account gone)."""
    token_id = _token_id(store, token) if token else None
    if token_id is None:
        return None
    with store.transaction(write=False) as conn:
        row = conn.execute(
            "SELECT u.* FROM sign_ins t JOIN users u ON u.id = t.user_id"
            " WHERE t.id = ? AND t.revoked = 0 AND t.expires_at > ?",
            (token_id, time.time() if now is None else now),
        ).fetchone()
    return User(row["id"], row["name"], UserRole(row["role"]), row["cohort"]) if row else None


def revoke(store: Store, token: str | None) -> None:
    """Sign a token out: its cookie no longer signs anyone in, wherever it was copied."""
    token_id = _token_id(store, token) if token else None
    if token_id is not None:
        with store.transaction() as conn:
            conn.execute("UPDATE sign_ins SET revoked = 1 WHERE id = ?", (token_id,))
