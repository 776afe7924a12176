"""Likely ranges of the session metrics, drawn from the coder's per-utterance probabilities."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import CQ, CR, OQ, OT, SR

from trainer.batch.output import SUMMARY_COLUMNS, session_from_dict, session_to_dict, summary_row
from trainer.pipeline import summarise
from trainer.schema import Attribution, Code, CodedUtterance, Role, Utterance
from trainer.scoring.feedback import build_feedback, level_note
from trainer.scoring.intervals import (
    INTERVAL_KEYS,
    NOISY_TALK_SHARE_ERROR,
    TALK_SHARE_ERROR,
    Calibration,
    metric_intervals,
    shipped_calibration,
)
from trainer.scoring.metrics import compute_metrics

CODES = tuple(Code)
# A session of 20 counsellor turns between client turns: 6 questions, 8 reflections, 6 other.
PLAN = (OQ, CQ, SR, CR, OT, SR, OQ, CR, OT, CQ, SR, CR, OT, OQ, SR, CR, OT, CQ, OT, OT)


def _row(code: Code, sure: float) -> tuple[float, ...]:
    """`sure` on the code, the rest spread evenly over the other four."""
    return tuple(sure if c is code else (1 - sure) / 4 for c in CODES)


def session(sure: float | None) -> list[CodedUtterance]:
    """PLAN coded with probability `sure` on each chosen code; None: codes a person set."""
    out = []
    for i, code in enumerate(PLAN):
        out.append(CodedUtterance(Utterance(Role.CLIENT, f"I have been thinking about it, day {i}.")))
        probabilities = None if sure is None else _row(code, sure)
        confidence = None if sure is None else sure
        out.append(
            CodedUtterance(Utterance(Role.COUNSELLOR, f"Turn {i}."), code, confidence, None, None, probabilities)
        )
    return out


def _ranges(sure: float) -> dict[str, tuple[float, float]]:
    m = compute_metrics(session(sure))
    return {key: m.interval(key) for key in INTERVAL_KEYS}


def test_every_coded_metric_gets_a_range_holding_its_value():
    m = compute_metrics(session(0.8))
    assert {k for k, _, _ in m.intervals} == set(INTERVAL_KEYS)
    for key in INTERVAL_KEYS:
        low, high = m.interval(key)
        assert low <= getattr(m, key) <= high
        assert low < high


def test_a_wider_spread_of_probabilities_gives_a_wider_range():
    sure, unsure = _ranges(0.95), _ranges(0.6)
    for key in INTERVAL_KEYS:
        assert unsure[key][1] - unsure[key][0] > sure[key][1] - sure[key][0], key


def test_a_larger_session_spread_widens_the_range():
    coded = session(0.8)
    values = {"reflection_question_ratio": compute_metrics(coded).reflection_question_ratio}
    width = {}
    for spread in (0.0, 1.5):
        ranges = metric_intervals(coded, values, Calibration(spread={"reflection_question_ratio": spread}))
        width[spread] = ranges["reflection_question_ratio"][1] - ranges["reflection_question_ratio"][0]
    assert width[1.5] > width[0.0]


def test_ranges_are_deterministic():
    assert compute_metrics(session(0.7)).intervals == compute_metrics(session(0.7)).intervals


def test_codes_a_person_set_have_no_range():
    assert compute_metrics(session(None)).intervals == ()


def test_ranges_reach_json_and_summary_and_survive_a_round_trip():
    s = summarise("s.csv", None, session(0.7))
    document = session_to_dict(s)
    assert set(document["metrics"]["intervals"]) == set(INTERVAL_KEYS)
    for key in INTERVAL_KEYS:
        assert document["metrics"][key] is not None  # the existing keys stay
    assert session_from_dict(document).metrics.intervals == tuple(
        (k, round(lo, 4), round(hi, 4)) for k, lo, hi in s.metrics.intervals
    )
    row = summary_row("s.csv", s, json_path="s.json")
    assert SUMMARY_COLUMNS[-12:-6] == tuple(f"{k}_{end}" for k in INTERVAL_KEYS for end in ("low", "high"))
    assert SUMMARY_COLUMNS.index("json") < SUMMARY_COLUMNS.index("reflection_question_ratio_low")
    low, high = s.metrics.interval("open_question_share")
    assert row["open_question_share_low"] == round(low, 4) and row["open_question_share_high"] == round(high, 4)


def test_level_names_a_range_across_a_threshold():
    assert level_note("reflection_question_ratio", (0.8, 1.3)) == "around the fair level, the coder cannot tell"
    assert level_note("reflection_question_ratio", (1.7, 2.4)) == "around the good level, the coder cannot tell"
    assert level_note("reflection_question_ratio", (1.1, 1.9)) == ""
    assert "below fair to good" in level_note("open_question_share", (0.3, 0.8))
    assert level_note("counsellor_talk_share", (0.3, 0.8)) == "around the 50% guide, one microphone cannot tell"
    assert level_note("counsellor_talk_share", (0.1, 0.5)) == ""  # at most the guide: on track either way
    assert level_note("counsellor_talk_share", (0.55, 0.9)) == ""


def test_feedback_shows_the_range_and_its_level_note():
    coded = session(0.55)
    metrics = compute_metrics(coded)
    items = {i.key: i for i in (*build_feedback(coded, metrics).strengths, *build_feedback(coded, metrics).practise)}
    item = items["reflection_question_ratio"]
    assert (item.low, item.high) == metrics.interval("reflection_question_ratio")
    assert "Likely" in item.message
    assert item.level_note == level_note(item.key, (item.low, item.high))
    assert item.level_note  # 8 reflections / 6 questions, unsure codes: the range crosses fair or good


def test_shipped_calibration_is_fitted_per_metric():
    calibration = shipped_calibration()
    assert calibration.level == pytest.approx(0.8)
    assert set(calibration.spread or {}) == set(INTERVAL_KEYS)


def timed(counsellor_s: float, client_s: float) -> list[CodedUtterance]:
    """One open question and one client answer, lasting the given seconds."""
    return [
        CodedUtterance(Utterance(Role.COUNSELLOR, "What brings you here?", 0.0, counsellor_s), Code.OPEN_QUESTION),
        CodedUtterance(Utterance(Role.CLIENT, "My wife.", counsellor_s, counsellor_s + client_s)),
    ]


def speakers(method: str, level_db: float | None = None) -> Attribution:
    """Two voices told apart by `method` in a recording with speech `level_db` above the background."""
    roles = (("S0", Role.COUNSELLOR), ("S1", Role.CLIENT))
    return Attribution(turns=(), roles=roles, method=method, speech_over_background_db=level_db)


def test_talk_share_has_a_range_only_where_one_microphone_told_the_voices_apart():
    error = TALK_SHARE_ERROR["diarization"]
    m = compute_metrics(timed(3.0, 7.0), speakers("diarization"))
    assert m.counsellor_talk_share == pytest.approx(0.3)
    assert m.interval("counsellor_talk_share") == pytest.approx((0.3 - error, 0.3 + error))
    low, high = compute_metrics(timed(9.5, 0.5), speakers("diarization")).interval("counsellor_talk_share")
    assert high == 1.0 and low == pytest.approx(0.95 - error)  # a share stays a share
    for certain in ("channel", "reference"):  # own microphones, or speakers a person named
        assert compute_metrics(timed(3.0, 7.0), speakers(certain, 10.0)).interval("counsellor_talk_share") is None
    assert compute_metrics(timed(3.0, 7.0)).interval("counsellor_talk_share") is None  # a transcript's speakers


def test_a_noisy_recording_widens_the_talk_share_range_and_keeps_it_when_reloaded():
    """Under the noisy-recording warning's level voices are confused more often, so the range widens."""
    clear = compute_metrics(timed(4.0, 6.0), speakers("diarization", 30.0)).interval("counsellor_talk_share")
    assert clear == pytest.approx((0.4 - TALK_SHARE_ERROR["diarization"], 0.4 + TALK_SHARE_ERROR["diarization"]))
    noisy = summarise("noisy.wav", 10.0, timed(4.0, 6.0), speakers=speakers("diarization", 18.0))
    low, high = noisy.metrics.interval("counsellor_talk_share")
    assert (low, high) == pytest.approx((0.4 - NOISY_TALK_SHARE_ERROR, 0.4 + NOISY_TALK_SHARE_ERROR))
    assert high - low > clear[1] - clear[0]
    document = session_to_dict(noisy)
    assert document["speakers"]["speech_over_background_db"] == 18.0
    reloaded = session_from_dict(document)
    assert reloaded.speakers.speech_over_background_db == 18.0
    again = summarise(reloaded.source, reloaded.duration_s, reloaded.utterances, speakers=reloaded.speakers)
    assert again.metrics.interval("counsellor_talk_share") == pytest.approx((low, high))  # a role swap keeps it


def test_talk_share_range_reaches_feedback_json_and_summary():
    attribution = speakers("diarization")
    s = summarise("mono.wav", 10.0, timed(4.5, 5.5), speakers=attribution)
    low, high = s.metrics.interval("counsellor_talk_share")
    assert low < 0.45 < 0.5 < high
    (talk,) = [i for i in s.feedback.notes if i.key == "counsellor_talk_share"]
    assert (talk.low, talk.high) == (low, high)
    assert talk.level_note == "around the 50% guide, one microphone cannot tell"
    assert talk.message.startswith("(Likely ") and "one microphone cannot tell" in talk.message
    document = session_to_dict(s)
    assert set(document["metrics"]["intervals"]) == {"counsellor_talk_share"}  # codes a person set: none else
    assert session_from_dict(document).metrics.interval("counsellor_talk_share") == (round(low, 4), round(high, 4))
    row = summary_row("mono.wav", s, json_path="mono.json")
    assert SUMMARY_COLUMNS[-6:-4] == ("counsellor_talk_share_low", "counsellor_talk_share_high")
    assert (row["counsellor_talk_share_low"], row["counsellor_talk_share_high"]) == (round(low, 4), round(high, 4))
    stereo = summarise("stereo.wav", 10.0, timed(4.5, 5.5), speakers=replace(attribution, method="channel"))
    assert stereo.metrics.intervals == () and summary_row("stereo.wav", stereo)["counsellor_talk_share_low"] == ""
