"""`trainer score` on a shipped stereo role play, checked against its reference file."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLES
from trainer.batch.output import session_from_dict
from trainer.cli import main
from trainer.training.reference import compare, reference_path

STEREO = SAMPLES / "strong_stereo.opus"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    if not STEREO.is_file():
        pytest.skip("sample_audio/strong_stereo.opus is not generated")
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(main, ["score", str(STEREO), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_summary_row(scored):
    with open(scored / "summary.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["status"] == "ok" and row["error"] == ""
    assert row["json"] == "strong_stereo.json"
    assert float(row["duration_s"]) > 60


def test_speakers_talk_share_and_codes_match_the_reference(scored):
    session = session_from_dict(json.loads((scored / "strong_stereo.json").read_text()))
    result = compare(session, reference_path(STEREO))
    assert session.speakers is not None and session.speakers.method == "channel"
    assert session.metrics.interval("counsellor_talk_share") is None  # one voice per channel: no range
    assert session.coder == "mi-coder"  # the trained coder is the default
    assert result.attributed_share >= 0.95
    assert result.talk_share_error <= 0.03
    assert abs(result.n_scored - result.n_reference) <= 0.1 * result.n_reference
    # The trained coder agrees on 72% of the intended codes of this sample (the rule coder on 50%).
    assert result.code_agreement is not None and result.code_agreement >= 0.65


def test_strong_counsellor_gets_credit_in_feedback(scored):
    doc = json.loads((scored / "strong_stereo.json").read_text())
    metrics = doc["metrics"]
    assert metrics["counsellor_talk_share"] < 0.5
    assert metrics["open_question_share"] >= 0.5
    assert metrics["reflection_question_ratio"] >= 1.0
    assert doc["feedback"]["strengths"], doc["feedback"]
    quoted = {e for item in doc["feedback"]["strengths"] for e in item["examples"]}
    said = {u["text"] for u in doc["utterances"] if u["speaker"] == "counsellor"}
    assert quoted and quoted <= said
