"""Review: corrections recompute metrics and feedback, agreement statistics, exports, the report."""

from __future__ import annotations

import json

import pytest

from trainer.app.accounts import User, UserRole
from trainer.app.review import (
    Comment,
    Correction,
    Edit,
    StoredSession,
    agreement,
    code_pairs,
    corrections_from_edits,
    export_csv,
    export_document,
    locate,
    review,
)
from trainer.app.session_report import render_report
from trainer.batch.output import session_to_dict
from trainer.pipeline import PipelineOptions, run_session
from trainer.schema import Code, Role
from trainer.speech.transcript_files import read_transcript

OQ, CQ, SR, CR, OTHER = (
    Code.OPEN_QUESTION,
    Code.CLOSED_QUESTION,
    Code.SIMPLE_REFLECTION,
    Code.COMPLEX_REFLECTION,
    Code.OTHER,
)


@pytest.fixture
def document(transcript_csv) -> dict:
    """The rule coder's result on a real six-utterance transcript: OQ, -, SR, -, CQ, -.

    Review is tested on fixed codes; the rule coder gives them without a trained model.
    """
    return session_to_dict(run_session(transcript_csv, PipelineOptions(coder="rules")))


def fix(document: dict, index: int, **changes) -> Correction:
    u = document["utterances"][index]
    return Correction(index, u["text"], u["start"], author="ivy", **changes)


def test_the_fixture_is_what_the_tests_assume(document):
    assert [u["code"] for u in document["utterances"]] == [
        "open_question",
        None,
        "simple_reflection",
        None,
        "closed_question",
        None,
    ]


def open_item_level(reviewed) -> str:
    f = reviewed.session.feedback
    return next(i.level for i in f.strengths + f.practise if i.key == "open_question_share")


def test_code_correction_recomputes_metrics_and_feedback(document):
    before = review(document)
    assert before.session.metrics.open_question_share == 0.5
    assert open_item_level(before) == "fair"
    after = review(document, [fix(document, 4, code=OQ)])
    assert after.session.metrics.open_question_share == 1.0
    assert after.session.metrics.count(CQ) == 0
    assert open_item_level(after) == "good"
    assert after.session.utterances[4].code is OQ and after.session.utterances[4].confidence is None
    assert after.automatic.utterances[4].code is CQ  # the machine's result is kept beside
    assert after.correction(4).code is OQ


def test_speaker_correction_moves_talk_time_and_codes(document):
    after = review(
        document, [fix(document, 1, speaker=Role.COUNSELLOR, code=CR), fix(document, 2, speaker=Role.CLIENT)]
    )
    utterances = after.session.utterances
    assert (utterances[1].speaker, utterances[1].code) == (Role.COUNSELLOR, CR)
    assert (utterances[2].speaker, utterances[2].code) == (Role.CLIENT, None)
    # counsellor 0-3, 3.5-9.5, 18.5-20 s; client 10-13, 13.5-18, 20.5-21.5 s
    assert after.session.metrics.counsellor_talk_share == pytest.approx(10.5 / 19)
    assert after.session.metrics.complex_reflection_share == 1.0
    assert dict(after.session.talk.speaking_s) == {Role.COUNSELLOR: 10.5, Role.CLIENT: 8.5}


def test_comment_only_changes_nothing_else(document):
    after = review(document, [fix(document, 2, comment="Nice reflection")], [Comment("ivy", "Well paced")])
    assert after.session.utterances == after.automatic.utterances
    assert session_to_dict(after.session)["metrics"] == document["metrics"]
    assert after.correction(2).comment == "Nice reflection" and after.comments[0].text == "Well paced"


def test_unmatched_correction_is_not_applied_but_reported(document):
    stale = Correction(None, "Do you drink every day?", 18.5, code=OQ)
    shifted = Correction(3, "Do you drink every day?", 18.5, code=OQ)  # index points at a client turn now
    after = review(document, [stale, shifted])
    assert after.session.utterances[4].code is CQ
    assert after.unmatched == (stale, shifted)
    assert "2 instructor correction(s) no longer match" in after.session.warnings[-1]


def test_locate_follows_text_and_prefers_nearest_start(document):
    utterances = review(document).automatic.utterances
    corrections = [
        Correction(4, "Do you drink every day?", 18.5),  # still in place
        Correction(0, "You're not sure you agree with her.", 10.0),  # moved to position 2
        Correction(1, "Something nobody said.", 1.0),  # gone
        Correction(2, "  what brings YOU here today? ", 0.0),  # spacing and case do not matter
    ]
    assert locate(corrections, utterances) == (4, 2, None, 0)


def test_edits_become_corrections_only_where_they_change_something(document):
    current = review(document, [fix(document, 4, code=OQ, comment="open it up")])
    edits = {
        i: Edit(c.speaker, c.code, current.correction(i).comment if current.correction(i) else "")
        for i, c in enumerate(current.session.utterances)
    }
    assert corrections_from_edits(current, edits, "ivy") == {}  # the table as shown: nothing to store
    edits[4] = Edit(Role.COUNSELLOR, CQ, "")  # back to the machine's code, comment cleared
    edits[0] = Edit(Role.COUNSELLOR, OQ, "good start")  # comment only
    edits[5] = Edit(Role.COUNSELLOR, OTHER, "")  # client turn was the counsellor's
    changes = corrections_from_edits(current, edits, "ivy")
    assert changes == {
        4: None,
        0: Correction(0, "What brings you here today?", 0.0, comment="good start", author="ivy"),
        5: Correction(5, "Most days.", 20.5, speaker=Role.COUNSELLOR, code=OTHER, author="ivy"),
    }


def test_agreement_counts_kappa_and_speaker_changes():
    pairs = [(OQ, OQ), (CQ, OQ), (SR, SR), (SR, CR), (OTHER, None)]
    result = agreement(pairs)
    assert (result.compared, result.agreed, result.share) == (5, 2, 0.4)
    # chance agreement: (1*2 [OQ] + 2*1 [SR]) / 25 = 0.16
    assert result.kappa == pytest.approx((0.4 - 0.16) / (1 - 0.16))
    by_code = {c.code: c for c in result.per_code}
    assert (by_code[OQ].automatic, by_code[OQ].instructor, by_code[OQ].agreed) == (1, 2, 1)
    assert by_code[OQ].kept_share == 1.0 and by_code[OQ].found_share == 0.5
    assert by_code[SR].kept_share == 0.5 and by_code[CR].kept_share is None
    assert agreement([(OQ, OQ), (SR, SR)]).kappa == 1.0
    assert agreement([]).share is None and agreement([]).kappa is None


def test_code_pairs_include_speaker_changes(document):
    after = review(
        document,
        [
            fix(document, 4, code=OQ),
            fix(document, 2, speaker=Role.CLIENT),
            fix(document, 5, speaker=Role.COUNSELLOR, code=OTHER),
        ],
    )
    assert code_pairs(after) == ((OQ, OQ), (SR, None), (CQ, OQ), (None, OTHER))


def stored_session(document: dict, corrections=(), comments=()) -> StoredSession:
    owner = User(1, "ann", UserRole.TRAINEE, "spring")
    return StoredSession(
        7,
        owner,
        "week <1>.wav",
        "2026-01-05T10:00:00+00:00",
        "f" * 64,
        None,
        document,
        tuple(corrections),
        tuple(comments),
        "ivy",
        "2026-01-06T09:00:00+00:00",
    )


def test_export_document_extends_the_public_format(document):
    corrections = [fix(document, 4, code=OQ, comment="open it up")]
    stored = stored_session(document, corrections, [Comment("ivy", "Well paced", "2026-01-06T09:00:00+00:00")])
    exported = export_document(stored, review(document, corrections, stored.comments))
    assert set(document) < set(exported)  # every key of the plain result is still there
    assert exported["utterances"][4]["code"] == "open_question"
    assert exported["metrics"]["open_question_share"] == 1.0
    r = exported["review"]
    assert r["corrections"][0] | {"created_at": ""} == {
        "index": 4,
        "text": "Do you drink every day?",
        "start": 18.5,
        "automatic_speaker": "counsellor",
        "automatic_code": "closed_question",
        "automatic_subcode": None,
        "speaker": None,
        "code": "open_question",
        "subcode": None,
        "comment": "open it up",
        "author": "ivy",
        "created_at": "",
        "applied": True,
    }
    assert r["automatic_metrics"]["open_question_share"] == 0.5
    assert r["comments"][0]["text"] == "Well paced" and r["trainee"] == "ann"
    json.dumps(exported)  # serialisable as is


def test_csv_export_reads_back_as_a_transcript_with_the_corrected_codes(document, tmp_path):
    reviewed = review(document, [fix(document, 4, code=OQ, comment="open it up")])
    path = tmp_path / "export.csv"
    path.write_text(export_csv(reviewed), encoding="utf-8")
    again = read_transcript(path)
    assert again.codes == (OQ, None, SR, None, OQ, None)
    assert [u.text for u in again.utterances] == [c.text for c in reviewed.session.utterances]
    assert "closed_question,open it up" in path.read_text(encoding="utf-8")


def test_report_is_self_contained_escaped_and_marks_what_matters(document):
    document["utterances"][2]["confidence"] = 0.45
    document["utterances"][0]["text"] = "What <script>alert(1)</script> brings you here?"
    corrections = [fix(document, 4, code=OQ, comment="open it up")]
    stored = stored_session(document, corrections, [Comment("ivy", "Well paced & warm")])
    page = render_report(stored, review(document, corrections, stored.comments))
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "&lt;script&gt;" in page and "week &lt;1&gt;.wav" in page
    assert "Simple reflection ?" in page  # low confidence marked
    assert "corrected by ivy (machine: Closed question)" in page and "ivy: open it up" in page
    assert "Well paced &amp; warm" in page and "Reviewed by ivy" in page
    assert "Open questions</td><td><b>100%</b>" in page


def test_ranges_follow_the_instructors_decisions(transcript_csv):
    document = session_to_dict(run_session(transcript_csv))  # the trained coder gives probabilities
    machine = review(document)
    assert machine.session.metrics.intervals
    corrected = review(document, [fix(document, 4, code=OQ)])
    assert corrected.session.utterances[4].probabilities is None  # an instructor's code is certain
    assert corrected.session.utterances[0].probabilities is not None
    assert review(document, confirmed=True).session.metrics.intervals == ()  # marked reviewed: all certain
