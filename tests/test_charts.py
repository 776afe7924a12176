"""The session charts say what they show: talk time in percent only, a legend of the codes used."""

from __future__ import annotations

import pytest

from trainer.app.ui.charts import history_chart, talk_time_chart, timeline_chart
from trainer.pipeline import run_session, summarise
from trainer.schema import Attribution, Role


def test_talk_time_is_a_share_on_a_percent_axis(transcript_csv):
    spec = talk_time_chart(run_session(transcript_csv)).to_dict()
    bars, labels = spec["layer"]
    assert bars["encoding"]["x"]["field"] == "share" and bars["encoding"]["x"]["axis"]["format"] == ".0%"
    assert "seconds" not in bars["encoding"]["x"]["title"]
    assert labels["encoding"]["text"] == {"field": "share", "format": ".0%", "type": "quantitative"}
    assert {t.get("field") for t in bars["encoding"]["tooltip"]} >= {"share", "seconds"}


def test_talk_time_from_one_microphone_carries_its_likely_range(transcript_csv):
    """The bars show the share the card shows, with the same range as whiskers (the client's turned round)."""
    told = run_session(transcript_csv)
    voices = Attribution(turns=(), roles=(("S0", Role.COUNSELLOR), ("S1", Role.CLIENT)), method="diarization")
    session = summarise(told.source, told.duration_s, told.utterances, speakers=voices)
    low, high = session.metrics.interval("counsellor_talk_share")
    spec = talk_time_chart(session).to_dict()
    bars, whiskers, labels = spec["layer"]
    assert whiskers["mark"]["type"] == "errorbar"
    assert (whiskers["encoding"]["x"]["field"], whiskers["encoding"]["x2"]["field"]) == ("low", "high")
    assert labels["encoding"]["x"]["field"] == "high"  # the label sits past the whisker
    (rows,) = spec["datasets"].values()
    by_role = {r["role"]: r for r in rows}
    counsellor, client = by_role["Counsellor"], by_role["Client"]
    assert counsellor["share"] == pytest.approx(session.metrics.counsellor_talk_share)
    assert (counsellor["low"], counsellor["high"]) == pytest.approx((low, high))
    assert (client["low"], client["high"]) == pytest.approx((1 - high, 1 - low))
    assert counsellor["likely"] == f"{low:.0%}–{high:.0%}"
    assert "likely" in {t.get("field") for t in bars["encoding"]["tooltip"]}


def test_the_timeline_legend_lists_only_what_was_said(transcript_csv):
    session = run_session(transcript_csv)
    shown = timeline_chart(session).to_dict()["encoding"]["color"]["scale"]["domain"]
    # OQ, SR, CQ and the client: no complex reflection, no "other", no uncoded counsellor turn.
    assert sorted(shown) == sorted({"Client", "Open question", "Simple reflection", "Closed question"})


def test_progress_shows_each_sessions_likely_range_where_it_has_one():
    points = [
        {"date": "2026-12-01", "title": "a", "reflection_question_ratio": 0.8, "reflection_question_ratio_range": None},
        {
            "date": "2026-12-02",
            "title": "b",
            "reflection_question_ratio": 1.4,
            "reflection_question_ratio_range": (1.0, 1.9),
        },
    ]
    spec = history_chart(points, "reflection_question_ratio").to_dict()
    bands, rule, line = spec["layer"]
    assert rule["mark"]["type"] == "rule" and rule["mark"]["clip"] is True
    assert rule["encoding"]["y"]["field"] == "low" and rule["encoding"]["y2"]["field"] == "high"
    drawn = [(row["session"], row["low"], row["high"]) for row in spec["datasets"][rule["data"]["name"]]]
    assert drawn == [("Dec 02 #2", 1.0, 1.9)]  # the session without a range draws no line
    assert len(spec["datasets"][line["data"]["name"]]) == 2  # every session has its point
