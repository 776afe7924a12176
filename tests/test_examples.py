"""Expert examples: the shipped index answers a client statement with a relevant expert turn."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainer.schema import Code, CodedUtterance, FeedbackItem, Role, Utterance
from trainer.scoring.examples import (
    EXPERT_CODES,
    INDEX_ROWS,
    ExampleIndex,
    ExpertExample,
    embed,
    expert_moments,
    load_index,
    weak_moments,
)
from trainer.training.annomi import load_annomi
from trainer.training.examples_index import MIN_CLIENT_WORDS, expert_examples


def coded(speaker: Role, text: str, code: Code | None = None) -> CodedUtterance:
    return CodedUtterance(Utterance(speaker, text), code, 0.9 if code else None)


def test_a_drinking_statement_finds_experts_answering_drinking_statements():
    found = load_index().lookup(["My doctor says I drink too much and I should cut down."], EXPERT_CODES, k=3)[0]
    assert 1 <= len(found) <= 3
    assert all("alcohol" in e.topic or "drink" in e.client.lower() for e in found)
    assert [e.similarity for e in found] == sorted((e.similarity for e in found), reverse=True)


def test_only_the_asked_codes_are_returned():
    smoking = "I have tried to quit smoking so many times and I always start again."
    for code in EXPERT_CODES:
        found = load_index().lookup([smoking], [code], k=3)[0]
        assert found and {e.code for e in found} == {code}
        assert any("smok" in e.client.lower() or "smok" in e.topic for e in found)


def test_the_shipped_index_holds_only_high_quality_complex_reflections_and_open_questions():
    index = load_index()
    quality = {t.transcript_id: t.mi_quality for t in load_annomi()}
    assert {quality[r.transcript_id] for r in index.rows} == {"high"}
    assert {r.code for r in index.rows} == set(EXPERT_CODES)
    assert all(len(r.client.split()) >= MIN_CLIENT_WORDS for r in index.rows)
    assert index.vectors.shape == (len(index.rows), 384)
    assert INDEX_ROWS.stat().st_size < 1_000_000  # a small file in the wheel


def test_building_again_gives_the_shipped_rows():
    shipped = json.loads(INDEX_ROWS.read_text("utf-8"))
    built = [{k: v for k, v in e.__dict__.items() if k != "similarity"} for e in expert_examples(load_annomi())]
    assert built == shipped


def test_unrelated_statements_find_nothing():
    index = ExampleIndex(
        [ExpertExample("I drink every night.", "Drinking helps you relax.", Code.COMPLEX_REFLECTION, 1, "alcohol")],
        embed(["I drink every night."]),
    )
    assert index.lookup(["The quarterly tax form has fourteen boxes."], EXPERT_CODES) == [[]]


def test_weak_moments_are_the_quoted_answers_to_a_client():
    utterances = (
        coded(Role.COUNSELLOR, "Do you smoke?", Code.CLOSED_QUESTION),
        coded(Role.CLIENT, "I smoke a pack a day and my kids hate it."),
        coded(Role.COUNSELLOR, "Do you want to stop?", Code.CLOSED_QUESTION),
        coded(Role.CLIENT, "Maybe, I don't know, it calms me down at work."),
        coded(Role.COUNSELLOR, "Is work stressful?", Code.CLOSED_QUESTION),
    )
    item = FeedbackItem(
        "open_question_share", "Turn closed questions into open ones", "", examples=("Is work stressful?",)
    )
    assert weak_moments(item, utterances) == [("Maybe, I don't know, it calms me down at work.", "Is work stressful?")]
    moments = expert_moments(item, utterances)
    assert len(moments) == 1 and moments[0].trainee == "Is work stressful?"
    assert all(e.code in (Code.OPEN_QUESTION, Code.COMPLEX_REFLECTION) for e in moments[0].experts)


@pytest.mark.parametrize("key", ["counsellor_talk_share", "change_talk"])
def test_points_without_an_expert_alternative_get_no_moments(key):
    utterances = (coded(Role.CLIENT, "I drink a lot."), coded(Role.COUNSELLOR, "Do you?", Code.CLOSED_QUESTION))
    assert expert_moments(FeedbackItem(key, "t", "m", examples=("Do you?",)), utterances) == ()


def test_vectors_are_unit_length():
    assert np.allclose(np.linalg.norm(embed(["one", "two words here"]), axis=1), 1.0, atol=1e-5)
