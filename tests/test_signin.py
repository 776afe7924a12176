"""Sign-in tokens (reload, new tab, sign-out, expiry) and the throttle on guessing passwords."""

from __future__ import annotations

import stat
import time

import pytest

from trainer.app import signin
from trainer.app.accounts import FREE_FAILURES, MAX_DELAY_S, login, throttle_delay
from trainer.errors import AuthError


def test_thirty_wrong_passwords_then_the_right_one_does_not_sign_in(store, people):
    refused = []
    for _ in range(30):
        with pytest.raises(AuthError) as e:
            login(store, "ann", "wrong-password")
        refused.append(str(e.value))
    assert refused[:FREE_FAILURES] == ["wrong user name or password"] * FREE_FAILURES
    assert all(r.startswith("too many failed sign-ins: try again in") for r in refused[FREE_FAILURES:])
    with pytest.raises(AuthError, match="too many failed sign-ins"):
        login(store, "ann", "password1")
    # Other accounts are not held up by guesses at ann's, from another address.
    assert login(store, "bob", "password1", client="10.0.0.9") == people["bob"]


def test_the_delay_grows_and_a_wait_lets_the_right_password_in(store, people):
    t = 1_000_000.0
    for _ in range(FREE_FAILURES):
        with pytest.raises(AuthError, match="wrong user name"):
            login(store, "ann", "wrong-password", now=t)
    waits = []
    for _ in range(4):  # refused before the password is checked, and counted: each wait is longer
        with pytest.raises(AuthError, match="try again in") as e:
            login(store, "ann", "password1", now=t)
        waits.append(str(e.value).rsplit(" in ", 1)[1])
    assert waits == ["2 s", "4 s", "8 s", "16 s"]
    assert throttle_delay(100) == MAX_DELAY_S
    with pytest.raises(AuthError, match="try again in 1 s"):  # 32 s after the last refusal
        login(store, "ann", "password1", now=t + 31)
    t += 31 + 64  # waited long enough after that refusal
    assert login(store, "ann", "password1", now=t) == people["ann"]
    login(store, "ann", "password1", now=t)  # the count was cleared by the success


def test_one_client_guessing_many_names_is_throttled(store, people):
    for name in ["x1", "x2", "x3", "x4", "x5"]:
        with pytest.raises(AuthError, match="wrong user name"):
            login(store, name, "password1", client="192.0.2.7")
    with pytest.raises(AuthError, match="try again in"):
        login(store, "ann", "password1", client="192.0.2.7")
    assert login(store, "ann", "password1", client="192.0.2.8") == people["ann"]


def test_a_token_signs_in_again_until_signed_out(store, people):
    token = signin.issue(store, people["ann"])
    assert signin.user_for(store, token) == people["ann"]
    assert signin.user_for(store, token + "x") is None  # a forged signature
    assert signin.user_for(store, None) is None and signin.user_for(store, "") is None
    signin.revoke(store, token)
    assert signin.user_for(store, token) is None


def test_a_token_expires(store, people):
    token = signin.issue(store, people["ann"], lifetime_s=60)
    assert signin.user_for(store, token) == people["ann"]
    assert signin.user_for(store, token, now=time.time() + 61) is None


def test_a_ticket_is_exchanged_for_its_token_once(store, people):
    token = signin.issue(store, people["ivy"])
    ticket = signin.ticket(store, token)
    assert token not in ticket
    assert signin.claim(store, "forged." + ticket) is None
    assert signin.claim(store, ticket) == token
    assert signin.claim(store, ticket) is None


def test_tokens_from_another_data_directory_are_not_accepted(store, people, tmp_path):
    from trainer.app.accounts import register
    from trainer.app.store import Store

    other = Store(tmp_path / "other")
    register(other, "ann", "trainee", "spring", "password1")
    assert signin.user_for(store, signin.issue(other, people["ann"])) is None


def test_the_signing_secret_is_private_and_kept(store):
    secret = signin.signing_secret(store.data_dir)
    path = store.data_dir / signin.SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 64 and signin.signing_secret(store.data_dir) == secret
