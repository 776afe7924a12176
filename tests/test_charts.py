"""The session charts say what they show: talk time in percent only, a legend of the codes used."""

from __future__ import annotations

from trainer.app.ui.charts import talk_time_chart, timeline_chart
from trainer.pipeline import run_session


def test_talk_time_is_a_share_on_a_percent_axis(transcript_csv):
    spec = talk_time_chart(run_session(transcript_csv)).to_dict()
    bars, labels = spec["layer"]
    assert bars["encoding"]["x"]["field"] == "share" and bars["encoding"]["x"]["axis"]["format"] == ".0%"
    assert "seconds" not in bars["encoding"]["x"]["title"]
    assert labels["encoding"]["text"] == {"field": "share", "format": ".0%", "type": "quantitative"}
    assert {t.get("field") for t in bars["encoding"]["tooltip"]} >= {"share", "seconds"}


def test_the_timeline_legend_lists_only_what_was_said(transcript_csv):
    session = run_session(transcript_csv)
    shown = timeline_chart(session).to_dict()["encoding"]["color"]["scale"]["domain"]
    # OQ, SR, CQ and the client: no complex reflection, no "other", no uncoded counsellor turn.
    assert sorted(shown) == sorted({"Client", "Open question", "Simple reflection", "Closed question"})
