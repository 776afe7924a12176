"""The MI-quality estimate on real transcripts, and the ranges on a scored transcript."""

from __future__ import annotations

import pytest
from conftest import SAMPLES

from trainer.batch.output import session_from_dict, session_to_dict
from trainer.pipeline import PipelineOptions, run_session
from trainer.scoring.intervals import INTERVAL_KEYS
from trainer.scoring.quality import FEATURES, fit_quality_model, session_features, shipped_quality_model


@pytest.fixture(scope="module")
def scored():
    """The four scripted role plays' reference transcripts, coded by the shipped coder."""
    return {
        name: run_session(SAMPLES / f"{name}.ref.csv")
        for name in ("strong_mono", "strong_stereo", "weak_mono", "weak_stereo")
    }


def test_strong_role_plays_resemble_high_quality_mi_more_than_weak_ones(scored):
    for kind in ("mono", "stereo"):
        strong, weak = scored[f"strong_{kind}"].quality, scored[f"weak_{kind}"].quality
        assert strong.probability_high > weak.probability_high, kind
    assert scored["strong_stereo"].quality.indicator == "resembles high-quality MI"
    assert scored["weak_mono"].quality.indicator != "resembles high-quality MI"


def test_the_estimate_names_its_evidence_and_reaches_the_json(scored):
    session = scored["weak_stereo"]
    evidence = session.quality.evidence
    assert len(evidence) == 3 and len({e.feature for e in evidence}) == 3
    assert all(e.feature in FEATURES and e.toward in ("high", "low") for e in evidence)
    document = session_to_dict(session)
    assert document["mi_quality"]["indicator"] == session.quality.indicator
    assert "not a grade" in document["mi_quality"]["note"]
    assert session_from_dict(document).quality.evidence[0].feature == evidence[0].feature


def test_the_coder_gives_ranges_and_an_instructors_codes_give_none(scored):
    coded = scored["strong_mono"].metrics
    assert {k for k, _, _ in coded.intervals} == set(INTERVAL_KEYS)
    kept = run_session(SAMPLES / "strong_mono.ref.csv", PipelineOptions(keep_codes=True))
    assert kept.metrics.intervals == ()
    assert kept.quality is not None  # the estimate rests on the codes, whoever set them


def test_features_follow_the_codes(scored):
    strong, weak = (session_features(scored[n].utterances) for n in ("strong_stereo", "weak_stereo"))
    assert strong["reflection_question_ratio"] > weak["reflection_question_ratio"]
    assert strong["unasked_advice_share"] <= weak["unasked_advice_share"]


def test_fitting_learns_which_way_a_feature_points():
    low = {k: 0.3 for k in FEATURES}
    high = {**low, "reflection_question_ratio": 2.0}
    features = [high, {**high, "reflection_question_ratio": 1.6}, low, {**low, "reflection_question_ratio": 0.5}]
    model = fit_quality_model(features, [True, True, False, False])
    assert model.coef["reflection_question_ratio"] > 0
    assert model.estimate(high).probability_high > 0.5 > model.estimate(low).probability_high


def test_the_shipped_model_is_there():
    assert shipped_quality_model() is not None
