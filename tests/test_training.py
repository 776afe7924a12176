"""Training writes an artifact the coder loads, and both see the same network."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from trainer.cli import main
from trainer.coding.mi_coder import MODEL_DIR, MICoder
from trainer.coding.network import CODE_LABELS, ContextHead, neighbours, segments
from trainer.schema import Role
from trainer.training.annomi import DATA_DIR, load_annomi
from trainer.training.train import (
    IGNORE,
    FrozenStates,
    TrainOptions,
    _correct_priors,
    _Network,
    behaviour_log_probabilities,
    train_coder,
)

QUICK = TrainOptions(trained_layers=1, epochs=1, window=32)


@pytest.mark.parametrize("context_tokens", [0, 8])
def test_train_writes_a_loadable_artifact(tmp_path: Path, context_tokens: int) -> None:
    transcripts = [replace(t, utterances=t.utterances[:16]) for t in load_annomi()[:2]]
    train_coder(transcripts, tmp_path, replace(QUICK, context_tokens=context_tokens))
    weights = load_file(str(tmp_path / "weights.safetensors"))
    # Only the fine-tuned top layer and the head are shipped; the rest comes from the package.
    assert {k.split(".")[0] for k in weights} == {"encoder", "head"}
    assert {k.split(".")[2] for k in weights if k.startswith("encoder.")} == {"5"}
    assert all(v.dtype == torch.float16 for v in weights.values())
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["training"]["seed"] == 0 and config["trained_layers"] == 1
    assert config["context_tokens"] == context_tokens
    coder = MICoder.load(tmp_path)
    assert coder.context_tokens == context_tokens
    coded = coder.code(transcripts[1].plain)
    assert len(coded) == len(transcripts[1].utterances)


@pytest.mark.parametrize("change", [{"presence_weight": 1.0}, {"coarse_weight": 1.0}])
def test_a_training_only_loss_changes_the_weights_not_what_is_shipped(tmp_path: Path, change: dict) -> None:
    """Multi-task training (the presence head, the behaviour loss) changes the shipped weights, not what is shipped."""
    transcripts = [replace(t, utterances=t.utterances[:16]) for t in load_annomi()[:2]]
    plain = load_file(str(train_coder(transcripts, tmp_path / "a", QUICK) / "weights.safetensors"))
    options = replace(QUICK, **change)
    multi = load_file(str(train_coder(transcripts, tmp_path / "b", options) / "weights.safetensors"))
    assert plain.keys() == multi.keys()
    assert not all(torch.equal(plain[k], multi[k]) for k in plain)
    assert MICoder.load(tmp_path / "b").code(transcripts[0].plain)


def test_a_coder_that_reads_the_history_ships_it_and_codes_with_it(tmp_path: Path) -> None:
    """--history adds a recurrent layer to the head: shipped, loaded, and read beyond an utterance's neighbours."""
    transcripts = [replace(t, utterances=t.utterances[:16]) for t in load_annomi()[:2]]
    plain = transcripts[0].plain
    # The first utterance's only neighbour is the next one; a change three turns on reaches it only through the history.
    far = [*plain[:4], replace(plain[4], text="Something else entirely, about the weather and the bus."), *plain[5:]]
    for history in (False, True):
        out = train_coder(transcripts, tmp_path / str(history), replace(QUICK, history=history))
        assert any(k.startswith("head.history.") for k in load_file(str(out / "weights.safetensors"))) == history
        assert json.loads((out / "config.json").read_text())["history"] is history
        coder = MICoder.load(out, quantize=False)  # int8 layers make a vector depend on its batch mates
        codes = coder.probabilities(plain)[0]
        assert codes.shape == (len(plain), len(CODE_LABELS))
        assert torch.allclose(coder.probabilities(far)[0][0], codes[0], atol=1e-5) != history


def test_behaviour_probabilities_are_the_code_probabilities_summed() -> None:
    logits = torch.randn(7, len(CODE_LABELS))
    p = torch.softmax(logits, dim=-1)
    expected = torch.stack([p[:, 0] + p[:, 1], p[:, 2] + p[:, 3], p[:, 4]], dim=-1)
    torch.testing.assert_close(behaviour_log_probabilities(logits).exp(), expected)
    assert CODE_LABELS[:4] == ("open_question", "closed_question", "simple_reflection", "complex_reflection")


def test_train_coder_command_passes_the_context_option(tmp_path: Path, monkeypatch) -> None:
    """The recipe the command trains is the shipped one, with what the command line changes."""
    import trainer.training.train as train

    _subset(DATA_DIR, tmp_path, {"0"})
    seen = []
    monkeypatch.setattr(train, "train_coder", lambda transcripts, out, options: seen.append(options) or out)
    changes = ([], ["--context-tokens", "12"], ["--presence-weight", "0.5"], ["--coarse-weight", "1"])
    changes += (["--epochs", "6"], ["--history"])
    for extra in changes:
        result = CliRunner().invoke(main, ["train-coder", "--data", str(tmp_path), "--out", str(tmp_path), *extra])
        assert result.exit_code == 0, result.output
    assert seen[0] == TrainOptions()
    assert seen[1] == replace(TrainOptions(), context_tokens=12)
    assert seen[2] == replace(TrainOptions(), presence_weight=0.5)
    assert seen[3] == replace(TrainOptions(), coarse_weight=1.0)
    assert seen[4] == replace(TrainOptions(), epochs=6)
    assert seen[5] == replace(TrainOptions(), history=True)


def test_training_with_a_fixed_seed_is_reproducible(tmp_path: Path) -> None:
    transcripts = [replace(t, utterances=t.utterances[:16]) for t in load_annomi()[:2]]
    first = load_file(str(train_coder(transcripts, tmp_path / "a", QUICK) / "weights.safetensors"))
    second = load_file(str(train_coder(transcripts, tmp_path / "b", QUICK) / "weights.safetensors"))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    other_seed = load_file(
        str(train_coder(transcripts, tmp_path / "c", replace(QUICK, seed=1)) / "weights.safetensors")
    )
    assert not all(torch.equal(first[k], other_seed[k]) for k in first)


@pytest.mark.parametrize("context_tokens", [0, 8])
def test_training_and_coding_compute_the_same_vectors(context_tokens: int) -> None:
    texts = ["What brings you here today?", "I drink too much, I guess.", "You're worried about it.", "Yes."]
    options = replace(QUICK, context_tokens=context_tokens)
    inputs = segments(texts, neighbours([Role.COUNSELLOR, Role.CLIENT] * 2), context_tokens > 0)
    net = _Network(options).eval()
    with torch.no_grad():
        trained = net.encode([FrozenStates(inputs, options)[s] for s in inputs])
    config = {"hidden": QUICK.hidden, "context_tokens": context_tokens}
    coder = MICoder(net.artifact(), config, quantize=False)
    # Frozen states are kept in half precision, hence the tolerance.
    assert torch.allclose(trained, coder.encode(inputs), atol=5e-3)


def test_context_changes_the_utterance_vector() -> None:
    """With context, the same words after different client turns give different vectors."""
    coder = MICoder(_Network(QUICK).artifact(), {"hidden": QUICK.hidden, "context_tokens": 8}, quantize=False)
    plain, after_a, after_b = coder.encode(
        [("You're worried.", ""), ("You're worried.", "I drink too much."), ("You're worried.", "My son left.")]
    )
    assert not torch.allclose(after_a, after_b, atol=1e-3)
    assert not torch.allclose(plain, after_a, atol=1e-3)


def test_prior_correction_lowers_common_labels() -> None:
    head = ContextHead(hidden=8)
    torch.nn.init.zeros_(head.code.bias)
    targets = torch.tensor([[4, IGNORE, IGNORE]] * 7 + [[0, IGNORE, IGNORE]] * 1)
    _correct_priors(head, targets, strength=1.0)
    bias = head.code.bias
    assert bias[4] < bias[0] < bias[1] == bias[2] == bias[3]


def _subset(data: Path, out: Path, transcripts: set[str]) -> None:
    for name in ("dev_simple.csv", "dev_therapist5.csv", "dev.csv"):
        with (data / name).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        with (out / name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if r["transcript_id"] in transcripts)


def test_evaluate_command_scores_the_shipped_model(tmp_path: Path, monkeypatch) -> None:
    _subset(DATA_DIR, tmp_path, {"0", "1"})
    loaded = []
    real_load = MICoder.load.__func__

    def load(cls, model_dir, quantize=True):
        loaded.append(quantize)
        return real_load(cls, model_dir, quantize)

    monkeypatch.setattr(MICoder, "load", classmethod(load))
    outputs = []
    for extra in ([], ["--float32"]):
        result = CliRunner().invoke(main, ["evaluate", "--model", str(MODEL_DIR), "--data", str(tmp_path), *extra])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    for heading in ("Five codes", "macro-F1", "reflection_question_ratio", "Speech-recognition", "Client talk type"):
        assert heading in outputs[0] and heading in outputs[1]
    assert loaded == [True, False]
