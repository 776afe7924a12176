"""Instructors correct the finer labels (kind of other, client talk type) and the notes follow."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from tests.conftest import CQ, CR, OQ, OT
from tests.test_feedback_talk import client, says
from trainer.app.accounts import User, UserRole
from trainer.app.migrations import MIGRATIONS
from trainer.app.review import (
    Correction,
    Edit,
    StoredSession,
    apply_corrections,
    code_pairs,
    corrections_from_edits,
    export_csv,
    export_document,
    review,
)
from trainer.app.session_report import render_report
from trainer.app.store import DB_NAME, Store
from trainer.batch.output import session_to_dict
from trainer.errors import ReviewError
from trainer.pipeline import summarise
from trainer.schema import Role
from trainer.scoring.change_talk import sure_subcode

ADVICE = "You should cut down to two beers a night."
KIDS = "I do want to be there for my kids."


@pytest.fixture
def document() -> dict:
    """A session as the trained coder labels it: unasked advice (#1), no change talk yet."""
    coded = [
        client("My wife keeps nagging me about the drinking."),
        says(ADVICE, OT, "advice", 0.9),
        client(KIDS, "neutral", 0.8),
        says("How many do you have on a weekend?", CQ),
        client("Usually five or six beers."),
    ]
    return session_to_dict(summarise("role-play.csv", None, coded, coder="mi-coder"))


def notes(reviewed) -> dict:
    return {i.key: i for i in reviewed.session.feedback.notes}


def shown_edits(reviewed) -> dict[int, Edit]:
    """The review table as the page shows it: saving it unchanged stores nothing."""
    return {i: Edit(c.speaker, c.code, "", sure_subcode(c)) for i, c in enumerate(reviewed.session.utterances)}


def test_advice_corrected_to_information_removes_the_unasked_advice_note(document):
    before = review(document)
    assert notes(before)["unasked_advice"].examples == (ADVICE,)
    after = review(document, [Correction(1, ADVICE, subcode="information")])
    assert "unasked_advice" not in notes(after)
    fixed = after.session.utterances[1]
    assert (fixed.code, fixed.subcode, fixed.subcode_confidence) == (OT, "information", None)
    assert fixed.confidence == 0.9  # the code was not touched, so the coder's confidence in it stands
    # Agreement is about the five codes: a subcode correction leaves it as it was.
    assert code_pairs(after) == code_pairs(before) == ((OT, OT), (CQ, CQ))


def test_marking_change_talk_that_the_counsellor_let_pass(document):
    current = review(document)
    edits = shown_edits(current)
    assert corrections_from_edits(current, edits, "ivy") == {}
    edits[2] = Edit(Role.CLIENT, None, "", "change")
    changes = corrections_from_edits(current, edits, "ivy")
    assert changes == {2: Correction(2, KIDS, None, author="ivy", subcode="change")}
    after = review(document, list(changes.values()))
    assert after.session.utterances[2].subcode_confidence is None  # a human label: always evidence
    note = notes(after)["change_talk"]
    assert (note.title, note.level, note.value, note.examples) == ("Catch the change talk", "practise", 0.0, (KIDS,))


def test_an_unsure_label_shows_as_none_and_can_be_confirmed(document):
    document["utterances"][2]["subcode"], document["utterances"][2]["subcode_confidence"] = "change", 0.4
    current = review(document)
    assert "change_talk" not in notes(current)  # the coder's guess is too unsure to count
    edits = shown_edits(current)
    assert edits[2].subcode is None and corrections_from_edits(current, edits, "ivy") == {}
    edits[2] = Edit(Role.CLIENT, None, "", "change")
    (fix,) = corrections_from_edits(current, edits, "ivy").values()
    assert fix.subcode == "change" and notes(review(document, [fix]))["change_talk"].level == "practise"


def test_removing_a_label_and_a_stale_one_after_a_code_change(document):
    current = review(document)
    edits = shown_edits(current)
    edits[1] = Edit(Role.COUNSELLOR, OT, "", None)  # not advice, nor any other kind
    (removed,) = corrections_from_edits(current, edits, "ivy").values()
    assert removed.subcode == "none" and removed.code is None
    assert review(document, [removed]).session.utterances[1].subcode is None
    # A new code with the shown "advice" left in its cell: the label goes, as the machine's would.
    edits[1] = Edit(Role.COUNSELLOR, CR, "", "advice")
    (recoded,) = corrections_from_edits(current, edits, "ivy").values()
    assert (recoded.code, recoded.subcode) == (CR, None)
    assert review(document, [recoded]).session.utterances[1].subcode is None


@pytest.mark.parametrize(
    ("fix", "message"),
    [
        (Correction(1, ADVICE, subcode="change"), "utterance #1: 'change' is client talk and cannot label counsellor"),
        (Correction(2, KIDS, subcode="advice"), "utterance #2: 'advice' is a kind of counsellor 'other' and cannot"),
        (Correction(1, ADVICE, code=OQ, subcode="advice"), "utterance #1: 'advice' needs the code 'other', not"),
        (Correction(1, ADVICE, subcode="blame"), "utterance #1: 'blame' is not a subcode; use one of information"),
    ],
)
def test_a_subcode_that_does_not_fit_is_one_line_error(document, fix, message):
    with pytest.raises(ReviewError, match=message) as raised:
        apply_corrections(review(document).automatic, [fix])
    assert "\n" not in str(raised.value)


def test_a_newly_chosen_misfit_in_the_table_is_refused(document):
    current = review(document)
    edits = shown_edits(current)
    edits[3] = Edit(Role.COUNSELLOR, CQ, "", "advice")
    with pytest.raises(ReviewError, match=r"^utterance #3: 'advice' needs the code 'other', not 'closed_question'$"):
        corrections_from_edits(current, edits, "ivy")


def test_the_store_refuses_a_misfit_and_keeps_subcodes(store, people, document):
    saved = store.add_session(people["ann"], "role-play.csv", document, "a" * 64)
    with pytest.raises(ReviewError, match="client talk"):
        store.set_corrections(people["ivy"], saved.id, {1: Correction(1, ADVICE, subcode="change")})
    assert store.session(people["ivy"], saved.id).corrections == ()
    fixes = {1: Correction(1, ADVICE, subcode="none"), 2: Correction(2, KIDS, subcode="change")}
    store.set_corrections(people["ivy"], saved.id, fixes)
    loaded = store.session(people["ann"], saved.id).corrections
    assert [(c.index, c.subcode, c.author) for c in loaded] == [(1, "none", "ivy"), (2, "change", "ivy")]


def test_a_rescored_code_under_a_subcode_correction_is_reported_not_raised(document):
    fix = Correction(1, ADVICE, subcode="information")
    document["utterances"][1]["code"] = "closed_question"  # re-scoring no longer calls it "other"
    after = review(document, [fix])
    assert after.unmatched == (fix,) and after.session.utterances[1].subcode == "advice"
    assert "1 instructor correction(s) no longer match" in after.session.warnings[-1]


def test_a_correction_stored_before_subcodes_loads_as_subcode_unchanged(tmp_path, document):
    """A data directory from before the subcode column: its rows have no subcode at all."""
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO users VALUES (1, 'ann', 'trainee', 'spring', 'x', '2026-01-01')")
        conn.execute("INSERT INTO users VALUES (2, 'ivy', 'instructor', 'spring', 'x', '2026-01-01')")
        conn.execute(
            "INSERT INTO sessions (id, owner_id, title, created_at, content_hash, document, scored_at)"
            " VALUES (1, 1, 'old.csv', '2026-01-02', ?, ?, '2026-01-02')",
            ("a" * 64, json.dumps(document)),
        )
        conn.execute(
            "INSERT INTO corrections (session_id, utterance_index, text, speaker, code, comment, author_id, created_at)"
            " VALUES (1, 1, ?, NULL, NULL, 'check the wording', 2, '2026-01-03')",
            (ADVICE,),
        )
    store = Store(tmp_path)
    ivy, _ = store.credentials("ivy")
    stored = store.session(ivy, 1)
    (old,) = stored.corrections
    assert (old.subcode, old.comment, old.changes_coding) == (None, "check the wording", False)
    reviewed = review(stored.document, stored.corrections)
    assert reviewed.session.utterances[1].subcode == "advice" and "unasked_advice" in notes(reviewed)


def test_exports_carry_the_corrected_subcode(document):
    fix = Correction(1, ADVICE, None, author="ivy", subcode="information")
    reviewed = review(document, [fix])
    rows = list(csv.DictReader(io.StringIO(export_csv(reviewed))))
    assert (rows[1]["subcode"], rows[1]["automatic_subcode"], rows[1]["code"]) == ("information", "advice", "other")
    assert rows[0]["subcode"] == rows[0]["automatic_subcode"] == "neutral"
    owner = User(1, "ann", UserRole.TRAINEE, "spring")
    stored = StoredSession(7, owner, "role-play.csv", "", "f" * 64, None, document, (fix,))
    exported = export_document(stored, reviewed)
    assert set(document) < set(exported) and set(document["utterances"][1]) == set(exported["utterances"][1])
    assert exported["utterances"][1]["subcode"] == "information"
    c = exported["review"]["corrections"][0]
    assert (c["subcode"], c["automatic_subcode"], c["code"]) == ("information", "advice", None)
    # The printable report names the machine's finer label beside the instructor's correction.
    assert "corrected by ivy (machine: Other (advice))" in render_report(stored, reviewed)
