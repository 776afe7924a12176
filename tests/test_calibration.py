"""Fitting the metric ranges and the quality model from saved out-of-fold probabilities."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
import torch

from trainer.coding.network import CODE_LABELS, SUBCODE_LABELS, TALK_LABELS
from trainer.schema import Code, Role, Utterance
from trainer.training.annomi import AnnotatedTranscript, AnnotatedUtterance
from trainer.training.calibration import SPREADS, calibrate, read_probabilities
from trainer.training.evaluation import write_probabilities

CODES = tuple(Code)


def _transcripts(n: int = 20, turns: int = 30) -> list[AnnotatedTranscript]:
    """Conversations with random expert codes; every other one is low quality (fewer reflections)."""
    rng = random.Random(0)
    out = []
    for t in range(n):
        weights = (3, 2, 2, 2, 3) if t % 2 == 0 else (1, 4, 1, 1, 5)
        utterances = []
        for i in range(turns):
            code = rng.choices(CODES, weights)[0]
            utterances += [
                AnnotatedUtterance(Utterance(Role.CLIENT, f"client turn {i}"), 2 * i, None, "neutral"),
                AnnotatedUtterance(Utterance(Role.COUNSELLOR, f"counsellor turn {i}"), 2 * i + 1, code, None),
            ]
        out.append(AnnotatedTranscript(t, f"g{t}", "high" if t % 2 == 0 else "low", "smoking", tuple(utterances)))
    return out


def _overconfident(transcripts: list[AnnotatedTranscript], wrong: float = 0.35) -> list[tuple[torch.Tensor, ...]]:
    """A coder that picks a wrong code for `wrong` of the utterances and is 97% sure of every pick."""
    rng = random.Random(1)
    out = []
    for t in transcripts:
        rows = []
        for a in t.utterances:
            pick = a.code if a.code is not None else Code.OTHER
            if a.code is not None and rng.random() < wrong:
                pick = rng.choice([c for c in CODES if c is not a.code])
            rows.append([0.97 if c is pick else 0.03 / 4 for c in CODES])
        n = len(t.utterances)
        subcodes = torch.full((n, len(SUBCODE_LABELS)), 1 / len(SUBCODE_LABELS))
        talk = torch.tensor([[0.1, 0.8, 0.1]] * n)
        assert len(rows[0]) == len(CODE_LABELS) and talk.shape[1] == len(TALK_LABELS)
        out.append((torch.tensor(rows), subcodes, talk))
    return out


def test_an_overconfident_coder_gets_a_session_spread_and_both_files(tmp_path):
    transcripts = _transcripts()
    saved = tmp_path / "oof.jsonl"
    write_probabilities(saved, transcripts, _overconfident(transcripts))
    report = calibrate(transcripts, saved, tmp_path / "models")
    intervals = json.loads((tmp_path / "models" / "intervals.json").read_text())
    assert set(intervals["spread"]) == {
        "reflection_question_ratio",
        "complex_reflection_share",
        "open_question_share",
    }
    assert all(t in SPREADS and t > 0 for t in intervals["spread"].values())
    quality = json.loads((tmp_path / "models" / "mi_quality.json").read_text())
    assert quality["coef"]["reflection_share"] > 0  # the high-quality half reflects more
    assert "AUROC" in report and "cross-fitted" in report
    again = tmp_path / "again"
    calibrate(transcripts, saved, again)
    assert (again / "intervals.json").read_text() == (tmp_path / "models" / "intervals.json").read_text()


def test_a_saved_file_gives_the_transcripts_it_holds_and_must_match_them(tmp_path):
    transcripts = _transcripts(n=6)
    saved = tmp_path / "oof.jsonl"
    write_probabilities(saved, transcripts[:5], _overconfident(transcripts[:5]))
    held, sessions = read_probabilities(saved, transcripts)
    assert [t.transcript_id for t in held] == [0, 1, 2, 3, 4] and len(sessions) == 5
    assert sessions[0][1].probabilities is not None and sessions[0][0].probabilities is None
    shorter = [replace(t, utterances=t.utterances[:-2]) for t in transcripts]
    with pytest.raises(ValueError, match="transcript 0 has other utterances"):
        read_probabilities(saved, shorter)
