"""Accounts: trainees and instructors in cohorts, hashed passwords, and who may see what.

Passwords are kept only as salted scrypt hashes (`hashlib`, standard library). Who may
open or review a session is decided here, in `can_view` and `can_review`; the store
calls them on every read and write, so no page, URL or query parameter gets around them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import os
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from trainer.errors import AuthError

# scrypt cost: ~0.1 s and 16 MiB per check on a laptop core; slow for guessing, fine for a login.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 8
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")  # also safe in file names and URLs
# Sign-in throttle, per user name and per client address: after FREE_FAILURES failed sign-ins
# in a row, each further attempt must wait 2, 4, 8... seconds after the last failed or refused
# one, at most MAX_DELAY_S; a successful sign-in clears the count.
FREE_FAILURES = 5
MAX_DELAY_S = 15 * 60


class UserRole(StrEnum):
    """What an account may do."""

    TRAINEE = "trainee"  # scores and reads their own sessions
    INSTRUCTOR = "instructor"  # reads and corrects the sessions of their cohort


@dataclass(frozen=True)
class User:
    """A signed-in person, as the store and the app pass it around (no password)."""

    id: int
    name: str
    role: UserRole
    cohort: str  # the group a trainee trains in, or an instructor teaches

    @property
    def is_instructor(self) -> bool:
        """Whether this user reviews a cohort."""
        return self.role is UserRole.INSTRUCTOR


class UserDirectory(Protocol):
    """Where accounts are kept (the store); declared here so that accounts need not import it."""

    def add_user(self, name: str, role: UserRole, cohort: str, password_hash: str) -> User:
        """Create an account with an already hashed password."""
        ...

    def credentials(self, name: str) -> tuple[User, str] | None:
        """A user and their password hash, or None for an unknown name."""
        ...

    def failed_sign_ins(self, keys: tuple[str, ...]) -> list[tuple[int, float]]:
        """(failures in a row, Unix time of the last) for each throttle key that has any."""
        ...

    def record_sign_in(self, keys: tuple[str, ...], failed: bool, now: float) -> None:
        """Count a failed sign-in against each key, or clear the keys after a success."""
        ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    """A self-describing salted hash: `scrypt$n$r$p$salt$key` (base64), safe to store."""
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether a password matches a hash from `hash_password` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:  # a malformed hash never matches
        return False
    return hmac.compare_digest(actual, expected)


@functools.lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """Checked against for unknown names, so a login takes as long whether or not the name exists."""
    return hash_password(os.urandom(8).hex())


def can_view(viewer: User, owner: User) -> bool:
    """A trainee sees only their own sessions; an instructor also sees their cohort's."""
    return viewer.id == owner.id or (viewer.is_instructor and viewer.cohort == owner.cohort)


def can_review(viewer: User, owner: User) -> bool:
    """Only an instructor of the owner's cohort corrects codes and comments."""
    return viewer.is_instructor and viewer.cohort == owner.cohort


def check_new_account(name: str, cohort: str, password: str) -> None:
    """Refuse names, cohorts and passwords that would cause trouble later.

    Raises:
        AuthError: what is wrong, in one line.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise AuthError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")
    if not cohort.strip():
        raise AuthError("a cohort is needed: trainees are reviewed by the instructors of their cohort")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")


def register(store: UserDirectory, name: str, role: UserRole | str, cohort: str, password: str) -> User:
    """Create an account with a hashed password.

    Raises:
        AuthError: the name is taken or the details are not acceptable.
    """
    check_new_account(name, cohort, password)
    return store.add_user(name, UserRole(role), cohort.strip(), hash_password(password))


def throttle_delay(failures: int) -> float:
    """Seconds to wait after the last of `failures` failed sign-ins in a row."""
    return 0.0 if failures < FREE_FAILURES else float(min(2 ** (failures - FREE_FAILURES + 1), MAX_DELAY_S))


def _throttle_keys(name: str, client: str | None) -> tuple[str, ...]:
    return (f"name:{name.lower()}",) + ((f"client:{client}",) if client else ())


def login(store: UserDirectory, name: str, password: str, client: str | None = None, now: float | None = None) -> User:
    """The user whose name and password these are, unless sign-ins for the name or client are throttled.

    Args:
        client: the address the attempt comes from, throttled like the name.
        now: the current Unix time (tests pass their own clock).

    Raises:
        AuthError: unknown name or wrong password (the message does not say which), or too many
            failed sign-ins lately (the password is then not even checked).
    """
    now = time.time() if now is None else now
    name = name.strip()
    keys = _throttle_keys(name, client)
    wait = max((throttle_delay(n) - (now - last) for n, last in store.failed_sign_ins(keys)), default=0.0)
    if wait > 0:  # counts as a failure too: guessing faster than the delay only lengthens it
        store.record_sign_in(keys, failed=True, now=now)
        raise AuthError(f"too many failed sign-ins: try again in {math.ceil(wait)} s")
    found = store.credentials(name)
    if found is None:
        verify_password(password, _decoy_hash())
    elif verify_password(password, found[1]):
        store.record_sign_in(keys, failed=False, now=now)
        return found[0]
    store.record_sign_in(keys, failed=True, now=now)
    raise AuthError("wrong user name or password")
