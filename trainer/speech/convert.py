"""Convert CTranslate2 Whisper weights into an openai-whisper checkpoint.

No package registry carries openai-whisper `.pt` files, but we do have the
CTranslate2 weights that faster-whisper uses. Converting them lets the
openai-whisper backend run offline, on exactly the weights the default backend
uses, so the two can be compared fairly.

A CTranslate2 `model.bin` is: a format version, the spec name and revision, then
for each variable its name, shape, dtype and raw bytes, then aliases (names that
point at another variable). Attention projections are stored fused (query, key
and value in one matrix for self-attention; key and value for cross-attention)
and are split here into openai-whisper's separate `query`, `key`, `value` layers.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from trainer.errors import ModelNotAvailable

SUPPORTED_SPEC = "WhisperSpec"
# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")

log = logging.getLogger("trainer")


def _read(f: BinaryIO, fmt: str) -> int:
    """One little-endian number of struct format `fmt`."""
    size = struct.calcsize(fmt)
    return struct.unpack("<" + fmt, f.read(size))[0]


def _read_string(f: BinaryIO) -> str:
    """A length-prefixed, NUL-terminated UTF-8 string."""
    length = _read(f, "H")
    return f.read(length)[:-1].decode("utf-8")


def _array(data: bytearray, dtype: str) -> np.ndarray:
    """Raw bytes as an array; bfloat16, which numpy lacks, widens exactly to float32."""
    if dtype == "bfloat16":
        return (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.frombuffer(data, dtype)


def read_ct2(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Read every variable of a CTranslate2 `model.bin`, aliases resolved.

    Returns:
        The spec name (e.g. "WhisperSpec") and the variables by name.

    Raises:
        ModelNotAvailable: the file is missing or not a CTranslate2 model.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            version = _read(f, "I")
            spec = _read_string(f) if version >= 2 else ""
            if version >= 4:
                _read(f, "I")  # spec revision: the variable names below are what matters
            variables: dict[str, np.ndarray] = {}
            for _ in range(_read(f, "I")):
                name = _read_string(f)
                shape = tuple(_read(f, "I") for _ in range(_read(f, "B")))
                dtype = CT2_DTYPES[_read(f, "B")]
                data = bytearray(f.read(_read(f, "I")))  # bytearray: writable, so torch can share it
                variables[name] = _array(data, dtype).reshape(shape)
            if version >= 3:
                for _ in range(_read(f, "I")):
                    alias, target = _read_string(f), _read_string(f)
                    variables[alias] = variables[target]
    except (OSError, struct.error, IndexError, ValueError, KeyError) as e:
        raise ModelNotAvailable(f"{path}: not a readable CTranslate2 model.bin ({e.__class__.__name__})") from e
    return spec, variables


def _weights(variables: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    """A weight as float, dequantised when CTranslate2 stored it as integers with a scale."""
    weight = variables[f"{prefix}/weight"]
    scale = variables.get(f"{prefix}/weight_scale")
    if scale is None:
        return weight
    # CTranslate2 stores round(w * scale): one scale per output row for int8, one in all for int16.
    return weight.astype(np.float32) / scale.astype(np.float32).reshape((-1,) + (1,) * (weight.ndim - 1))


def _linear(variables: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Weight and bias (if any) of one linear layer."""
    return _weights(variables, prefix), variables.get(f"{prefix}/bias")


def _attention(state: dict[str, np.ndarray], variables: dict[str, np.ndarray], src: str, dst: str, cross: bool) -> None:
    """Split fused projections into openai-whisper's query/key/value/out layers."""
    names = ("query", "key", "value")
    if cross:
        parts = [(_linear(variables, f"{src}/linear_0"), 1), (_linear(variables, f"{src}/linear_1"), 2)]
        out = f"{src}/linear_2"
    else:
        parts = [(_linear(variables, f"{src}/linear_0"), 3)]
        out = f"{src}/linear_1"
    split: list[tuple[np.ndarray, np.ndarray | None]] = []
    for (weight, bias), n in parts:
        weights = np.split(weight, n)
        biases = np.split(bias, n) if bias is not None else [None] * n
        split.extend(zip(weights, biases))
    for name, (weight, bias) in zip(names, split):
        state[f"{dst}.{name}.weight"] = weight
        if name == "key" and bias is not None and np.any(bias):
            raise ModelNotAvailable(f"{src}: a key bias, which openai-whisper's attention cannot hold")
        if name != "key" and bias is not None:  # openai-whisper's key has no bias; the fused one is zeros
            state[f"{dst}.{name}.bias"] = bias
    state[f"{dst}.out.weight"], state[f"{dst}.out.bias"] = _linear(variables, out)
    _norm(state, variables, f"{src}/layer_norm", f"{dst}_ln")


def _norm(state: dict[str, np.ndarray], variables: dict[str, np.ndarray], src: str, dst: str) -> None:
    """Copy a layer norm (CTranslate2's gamma/beta are torch's weight/bias)."""
    state[f"{dst}.weight"] = variables[f"{src}/gamma"]
    state[f"{dst}.bias"] = variables[f"{src}/beta"]


def _block(state: dict[str, np.ndarray], variables: dict[str, np.ndarray], src: str, dst: str, decoder: bool) -> None:
    """One residual attention block of the encoder or decoder."""
    _attention(state, variables, f"{src}/self_attention", f"{dst}.attn", cross=False)
    if decoder:
        _attention(state, variables, f"{src}/attention", f"{dst}.cross_attn", cross=True)
    state[f"{dst}.mlp.0.weight"], state[f"{dst}.mlp.0.bias"] = _linear(variables, f"{src}/ffn/linear_0")
    state[f"{dst}.mlp.2.weight"], state[f"{dst}.mlp.2.bias"] = _linear(variables, f"{src}/ffn/linear_1")
    _norm(state, variables, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def _count_layers(variables: dict[str, np.ndarray], stack: str) -> int:
    """Number of `layer_N` blocks in the encoder or decoder."""
    return len({name.split("/")[1] for name in variables if re.match(rf"{stack}/layer_\d+/", name)})


def alignment_heads_dump(heads: list[list[int]], n_layers: int, n_heads: int) -> str:
    """Encode (layer, head) pairs the way `Whisper.set_alignment_heads` expects them."""
    mask = np.zeros((n_layers, n_heads), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes())).decode("ascii")


def ct2_to_openai(model_dir: str | Path) -> dict:
    """Build an openai-whisper checkpoint from a CTranslate2 Whisper model directory.

    Returns:
        `{"dims": ..., "model_state_dict": ..., "alignment_heads": ...}`, which
        `whisper.load_model(path)` accepts once saved with `torch.save`. The
        alignment heads (from the model's config.json) are not part of the state
        dict in openai-whisper, so they travel beside it; `trainer.speech.transcribe`
        applies them for word timestamps.

    Raises:
        ModelNotAvailable: the directory holds no CTranslate2 Whisper model.
    """
    import torch

    model_dir = Path(model_dir)
    spec, variables = read_ct2(model_dir / "model.bin")
    if spec != SUPPORTED_SPEC:
        raise ModelNotAvailable(f"{model_dir}: a {spec or 'unknown'} model, not a CTranslate2 Whisper model")
    try:
        state, dims = _state_and_dims(variables)
    except KeyError as e:
        raise ModelNotAvailable(f"{model_dir}: model.bin has no {e.args[0]}; an unknown Whisper layout") from e
    tensors = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in state.items()}
    checkpoint: dict = {"dims": dims, "model_state_dict": tensors}
    config = model_dir / "config.json"
    heads = json.loads(config.read_text()).get("alignment_heads") if config.is_file() else None
    if heads:
        checkpoint["alignment_heads"] = alignment_heads_dump(heads, dims["n_text_layer"], dims["n_text_head"])
    return checkpoint


def _state_and_dims(v: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """openai-whisper's state dict and model dimensions from CTranslate2's variables."""
    n_audio_layer, n_text_layer = _count_layers(v, "encoder"), _count_layers(v, "decoder")
    state: dict[str, np.ndarray] = {
        "encoder.conv1.weight": _weights(v, "encoder/conv1"),
        "encoder.conv1.bias": v["encoder/conv1/bias"],
        "encoder.conv2.weight": _weights(v, "encoder/conv2"),
        "encoder.conv2.bias": v["encoder/conv2/bias"],
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
        "decoder.token_embedding.weight": _weights(v, "decoder/embeddings"),
        "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
    }
    for i in range(n_audio_layer):
        _block(state, v, f"encoder/layer_{i}", f"encoder.blocks.{i}", decoder=False)
    for i in range(n_text_layer):
        _block(state, v, f"decoder/layer_{i}", f"decoder.blocks.{i}", decoder=True)
    _norm(state, v, "encoder/layer_norm", "encoder.ln_post")
    _norm(state, v, "decoder/layer_norm", "decoder.ln")
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(v["encoder/conv1/weight"].shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    return state, dims


def convert(model_dir: str | Path, out: str | Path) -> Path:
    """Write an openai-whisper `.pt` checkpoint for a CTranslate2 Whisper model directory.

    The file is written beside its destination under another name and renamed,
    so an interrupted conversion never leaves a truncated checkpoint behind.
    """
    import torch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = ct2_to_openai(model_dir)
    # A unique temporary name: two processes converting at once do not write into one file.
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=out.name + ".", delete=False) as partial:
        torch.save(checkpoint, partial)
    Path(partial.name).replace(out)
    log.info("converted %s to %s", model_dir, out)
    return out
