"""Notes on unasked advice and missed change talk, from the trained coder's finer labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import CQ, CR, OQ, OT, SR
from trainer.app.accounts import User, UserRole
from trainer.app.review import Correction, StoredSession, review
from trainer.app.session_report import render_report
from trainer.batch.output import session_to_dict
from trainer.coding import load_coder
from trainer.pipeline import summarise
from trainer.schema import Code, CodedUtterance, Role, Utterance
from trainer.scoring.change_talk import (
    advice_note,
    asks_permission,
    change_talk_note,
    client_asks,
    split_advice,
    split_change_talk,
    talk_notes,
)
from trainer.scoring.feedback import build_feedback
from trainer.scoring.metrics import compute_metrics

NEW_KEYS = {"unasked_advice", "change_talk"}
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def says(text: str, code: Code, subcode: str | None = None, sure: float | None = None) -> CodedUtterance:
    """A counsellor utterance as the trained coder gives it."""
    return CodedUtterance(Utterance(Role.COUNSELLOR, text), code, 0.9, subcode, sure)


def client(text: str, talk: str = "neutral", sure: float = 0.9) -> CodedUtterance:
    """A client utterance with its talk type, as the trained coder gives it."""
    return CodedUtterance(Utterance(Role.CLIENT, text), None, None, talk, sure)


ASKED_BY_CLIENT = [
    client("I've tried everything. What should I do?"),
    says("You could keep a drink diary for a week.", OT, "advice", 0.8),
]
ASKED_PERMISSION = [
    says("Would it be all right if I shared what has helped others?", CQ),
    client("Sure, go ahead."),
    says("Some people find a walk after dinner takes the edge off.", OT, "advice", 0.7),
]
UNASKED = [
    client("My wife keeps nagging me about the drinking."),
    says("You should cut down to two beers a night.", OT, "advice", 0.9),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What should I do?", True),
        ("what should i do", True),  # speech recognition: no case, no punctuation
        ("do you have any advice for me", True),
        ("Is that normal?", True),
        ("I just don't know what to do.", False),  # ambivalence to reflect, not a request
        ("My wife keeps nagging me.", False),
    ],
)
def test_client_asks(text, expected):
    assert client_asks(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Would it be all right if I shared what has helped others?", True),
        ("can i share an idea with you", True),
        ("May I make a suggestion?", True),
        ("If it’s OK with you, I'd like to tell you about a group nearby.", True),
        ("Would you like to hear what some people do?", True),
        ("Would you like to quit?", False),
        ("You should try walking.", False),
    ],
)
def test_asks_permission(text, expected):
    assert asks_permission(text) is expected


def test_advice_asked_for_or_with_permission_is_not_a_point_to_work_on():
    coded = ASKED_BY_CLIENT + ASKED_PERMISSION
    asked, unasked = split_advice(coded)
    assert [c.text for c in asked] == [coded[1].text, coded[4].text] and not unasked
    note = advice_note(coded)
    assert note.key == "unasked_advice" and note.level == "info" and note.value == 0.0
    assert note.examples == (coded[1].text, coded[4].text)  # the surer label first


def test_unasked_advice_is_quoted_as_a_point_to_work_on():
    coded = ASKED_BY_CLIENT + UNASKED
    note = advice_note(coded)
    assert note.level == "practise" and note.value == 1.0
    assert note.examples == ("You should cut down to two beers a night.",)
    assert "(of 2 pieces of advice)" in note.message and "Would it be all right" in note.message


def test_advice_going_on_from_asked_advice_stays_asked():
    more = says("Writing down each drink makes the pattern plain.", OT, "advice", 0.8)
    asked, unasked = split_advice([*ASKED_BY_CLIENT, more, *UNASKED])
    assert more in asked and [c.text for c in unasked] == ["You should cut down to two beers a night."]


def test_permission_in_the_same_turn_counts():
    turn = says("Can I share an idea? Some people switch to alcohol-free beer.", OT, "advice", 0.9)
    assert split_advice([client("Work is stressful."), turn]) == ([turn], [])


def test_other_kinds_of_other_are_not_advice():
    coded = [client("Stuff."), says("Most people drink less in January.", OT, "information", 0.9)]
    assert advice_note(coded) is None


def test_unsure_advice_is_not_evidence():
    coded = [client("My wife keeps nagging me."), says("Maybe cut down a bit.", OT, "advice", 0.4)]
    assert split_advice(coded) == ([], [])
    assert advice_note(coded) is None


def test_missed_change_talk_quotes_the_client():
    coded = [
        client("I want to be there for my kids.", "change", 0.9),
        says("How many drinks did you have yesterday?", CQ),
        client("I guess I could cut back on weekdays.", "change", 0.6),
        says("Let me tell you about the guidelines.", OT, "information", 0.8),
        client("I don't know, it helps me relax.", "sustain"),
        says("It helps you unwind.", SR),
        client("I'd feel better if I stopped.", "change", 0.8),
        says("You'd feel better without it.", CR),
    ]
    followed, missed = split_change_talk(coded)
    assert [c.text for c in followed] == ["I'd feel better if I stopped."]
    note = change_talk_note(coded)
    assert note.key == "change_talk" and note.level == "practise"
    assert note.value == pytest.approx(1 / 3)
    assert note.examples == ("I want to be there for my kids.", "I guess I could cut back on weekdays.")


def test_change_talk_mostly_reflected_reads_as_a_strength():
    coded = [
        client("I want to be there for my kids.", "change"),
        says("Your kids matter a great deal to you.", CR),
        client("Maybe I could stop on weekdays.", "change"),
        says("What would stopping on weekdays look like?", OQ),  # an open question follows it up too
        client("I really should quit.", "change"),
        says("Did your doctor say so?", CQ),
    ]
    note = change_talk_note(coded)
    assert note.level == "info" and note.value == pytest.approx(2 / 3)
    assert "2 of 3 times" in note.message and note.examples == ("I really should quit.",)


def test_change_talk_counts_once_per_client_turn_and_needs_an_answer():
    coded = [
        client("I want to stop.", "change", 0.7),
        client("I need to, for my health.", "change", 0.95),
        says("Your health is pushing you to stop.", CR),
        client("I could ask my brother for help.", "change"),  # the session ends: not judged
    ]
    assert split_change_talk(coded) == ([coded[1]], [])


def test_backchannels_neither_answer_change_talk_nor_end_an_exchange():
    coded = [
        client("I want to be there for my kids.", "change"),
        says("Mm-hmm.", OT),
        client("Yeah."),
        says("Being a good dad matters to you.", CR),
        client("What should I do?"),
        says("You could start with the weekends.", OT, "advice"),
        client("Mm."),
        says("And tell your wife what you plan.", OT, "advice"),
    ]
    assert split_change_talk(coded) == ([coded[0]], [])
    assert split_advice(coded) == ([coded[5], coded[7]], [])


def test_unsure_change_talk_is_not_evidence():
    coded = [client("Maybe I'll think about it.", "change", 0.45), says("Did you drink today?", CQ)]
    assert change_talk_note(coded) is None


def test_rule_coder_gives_no_such_notes():
    utterances = [
        Utterance(Role.CLIENT, "I really want to quit drinking for my kids.", 0.0, 3.0),
        Utterance(Role.COUNSELLOR, "You should just stop buying beer.", 3.0, 5.0),
        Utterance(Role.CLIENT, "Yeah, maybe.", 5.0, 6.0),
        Utterance(Role.COUNSELLOR, "How much do you drink a week?", 6.0, 8.0),
    ]
    coded = load_coder("rules").code(utterances)
    assert all(c.subcode is None for c in coded)
    assert talk_notes(coded) == ()
    feedback = build_feedback(coded, compute_metrics(coded))
    assert not NEW_KEYS & {i.key for i in feedback.strengths + feedback.practise + feedback.notes}


def test_notes_follow_the_miti_feedback_without_displacing_it():
    coded = [*ASKED_BY_CLIENT, *UNASKED, client("I want to be healthier.", "change"), says("Did you eat?", CQ)]
    plain = [CodedUtterance(c.utterance, c.code, c.confidence) for c in coded]  # the same codes, no subcodes
    metrics = compute_metrics(coded)
    with_notes, without = build_feedback(coded, metrics), build_feedback(plain, metrics)
    assert with_notes.practise == without.practise and with_notes.strengths == without.strengths
    assert with_notes.notes[: len(without.notes)] == without.notes
    assert [i.key for i in with_notes.notes[len(without.notes) :]] == ["unasked_advice", "change_talk"]


def _document() -> dict:
    coded = [*UNASKED, client("I want to be healthier.", "change"), says("Did you eat today?", CQ)]
    return session_to_dict(summarise("role-play.csv", None, coded, coder="mi-coder"))


def test_notes_reach_the_json_document():
    document = json.loads(json.dumps(_document()))
    notes = {n["key"]: n for n in document["feedback"]["notes"]}
    assert notes["unasked_advice"]["value"] == 1.0
    assert notes["unasked_advice"]["examples"] == ["You should cut down to two beers a night."]
    assert notes["change_talk"]["level"] == "practise" and notes["change_talk"]["value"] == 0.0
    assert document["utterances"][2]["subcode"] == "change"


def test_instructor_corrections_flow_into_the_notes():
    document = _document()
    before = {i.key for i in review(document).session.feedback.notes}
    assert NEW_KEYS <= before
    corrections = [
        Correction(1, document["utterances"][1]["text"], code=CR),  # it was not advice after all
        Correction(3, document["utterances"][3]["text"], code=SR),  # the change talk was reflected
    ]
    after = {i.key: i for i in review(document, corrections).session.feedback.notes}
    assert "unasked_advice" not in after
    assert after["change_talk"].level == "info" and after["change_talk"].value == 1.0


def test_the_printable_report_shows_the_notes():
    document = _document()
    owner = User(1, "ann", UserRole.TRAINEE, "spring")
    stored = StoredSession(7, owner, "role-play.csv", "2026-01-05T10:00:00+00:00", "f" * 64, None, document)
    page = render_report(stored, review(document))
    assert "<h2>Also</h2>" in page and "Ask before advising" in page and "Catch the change talk" in page
    assert "“I want to be healthier.”" in page


def test_the_app_shows_the_notes_apart_from_what_went_well(store, people, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_DATA_DIR", str(tmp_path / "data"))
    stored = store.add_session(people["ann"], "role-play.csv", _document(), "b" * 64)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["session"] = str(stored.id)
    at.run()
    at.text_input(key="login_name").input("ann")
    at.text_input(key="login_password").input("password1")
    at.button(key="login_submit").click().run()
    assert not at.exception
    shown = [str(m.value).replace("\\", "") for m in at.markdown]
    also = shown.index("##### Also")
    assert any("Ask before advising" in m for m in shown[also:])
    assert "> I want to be healthier." in shown[also:]
    assert not any("Ask before advising" in m for m in shown[:also])
