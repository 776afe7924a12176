"""Accounts: password hashing, sign-in, who may see whose sessions, and `trainer user add`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from trainer.app.accounts import User, UserRole, can_review, can_view, hash_password, login, register, verify_password
from trainer.app.store import Store
from trainer.cli import main
from trainer.errors import AuthError


def test_password_hash_is_salted_and_verifies():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$") and "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct hors", first)


@pytest.mark.parametrize("stored", ["", "plain-text", "md5$abc", "scrypt$x$8$1$AAAA$AAAA"])
def test_malformed_hash_never_matches(stored):
    assert not verify_password("anything", stored)


def test_register_then_login(tmp_path):
    store = Store(tmp_path)
    ann = register(store, "ann", "trainee", " spring ", "password1")
    assert ann == User(ann.id, "ann", UserRole.TRAINEE, "spring")
    assert login(store, "ann", "password1") == ann
    with pytest.raises(AuthError, match="wrong user name or password"):
        login(store, "ann", "password2")
    with pytest.raises(AuthError, match="wrong user name or password"):
        login(store, "nobody", "password1")


def test_names_are_unique_ignoring_case(tmp_path):
    store = Store(tmp_path)
    register(store, "Ann", "trainee", "spring", "password1")
    with pytest.raises(AuthError, match="already exists"):
        register(store, "ann", "instructor", "spring", "password2")


@pytest.mark.parametrize(
    ("name", "cohort", "password", "problem"),
    [
        ("", "spring", "password1", "user name"),
        ("ann smith", "spring", "password1", "user name"),
        ("../ann", "spring", "password1", "user name"),
        ("ann", " ", "password1", "cohort"),
        ("ann", "spring", "short", "too short"),
    ],
)
def test_bad_account_details_are_refused(tmp_path, name, cohort, password, problem):
    store = Store(tmp_path)
    with pytest.raises(AuthError, match=problem):
        register(store, name, "trainee", cohort, password)
    assert not store.has_users()


ANN = User(1, "ann", UserRole.TRAINEE, "spring")
BOB = User(2, "bob", UserRole.TRAINEE, "spring")
IVY = User(3, "ivy", UserRole.INSTRUCTOR, "spring")
OLGA = User(4, "olga", UserRole.INSTRUCTOR, "autumn")


@pytest.mark.parametrize(
    ("viewer", "owner", "view", "review"),
    [
        (ANN, ANN, True, False),  # one's own sessions, but trainees do not correct codes
        (BOB, ANN, False, False),  # another trainee, even of the same cohort
        (IVY, ANN, True, True),  # the cohort's instructor
        (OLGA, ANN, False, False),  # another cohort's instructor
    ],
)
def test_who_may_view_and_review(viewer, owner, view, review):
    assert can_view(viewer, owner) is view
    assert can_review(viewer, owner) is review


def test_cli_user_add_reads_password_from_stdin(tmp_path):
    result = CliRunner().invoke(
        main,
        ["user", "add", "ivy", "--role", "instructor", "--cohort", "spring", "--password-stdin"],
        input="s3cret-pass\n",
        env={"TRAINER_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 0, result.output
    ivy = login(Store(tmp_path / "data"), "ivy", "s3cret-pass")
    assert ivy.role is UserRole.INSTRUCTOR and ivy.cohort == "spring"


def test_cli_user_add_prompts_and_reports_errors_in_one_line(tmp_path):
    args = ["user", "add", "ann", "--role", "trainee", "--cohort", "spring", "--data-dir", str(tmp_path)]
    runner = CliRunner()
    assert runner.invoke(main, args, input="password1\npassword1\n").exit_code == 0
    again = runner.invoke(main, args, input="password1\npassword1\n")
    assert again.exit_code == 1
    assert again.output.strip().splitlines()[-1] == "Error: user 'ann' already exists"
    assert login(Store(tmp_path), "ann", "password1").name == "ann"
