"""CTranslate2 -> openai-whisper conversion, checked against both libraries on real weights."""

import json
import shutil
import struct

import numpy as np
import pytest

from tests.conftest import TEST_DATA
from trainer.errors import ModelNotAvailable
from trainer.speech.convert import CT2_DTYPES, convert, ct2_to_openai, read_ct2
from trainer.speech.whisper_models import model_dir


def write_ct2(path, variables, aliases=(), dtypes=(), spec="WhisperSpec"):
    """Write a model.bin the way CTranslate2's ModelSpec._serialize does (format version 6)."""

    def string(s):
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"

    out = [struct.pack("<I", 6), string(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, value in variables.items():
        dtype = dict(dtypes).get(name, str(value.dtype))
        out += [string(name), struct.pack("<B", value.ndim), *(struct.pack("<I", d) for d in value.shape)]
        out += [struct.pack("<BI", CT2_DTYPES.index(dtype), value.nbytes), value.tobytes()]
    out.append(struct.pack("<I", len(aliases)))
    out += [string(alias) + string(target) for alias, target in aliases]
    path.write_bytes(b"".join(out))


@pytest.fixture(scope="module")
def tiny_dir():
    return model_dir("tiny.en")


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_dir):
    return ct2_to_openai(tiny_dir)


def test_read_ct2_reads_every_dtype_and_alias(tmp_path):
    bf16_bits = (np.array([1.5, -2.0], np.float32).view(np.uint32) >> 16).astype(np.uint16)
    write_ct2(
        tmp_path / "model.bin",
        {
            "a": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b": np.array([0.5, 1.0], np.float16),
            "c": np.array([-3, 7], np.int8),
            "d": np.array(8, np.int16),
            "e": bf16_bits,
        },
        aliases=[("f", "a")],
        dtypes=[("e", "bfloat16")],
    )
    spec, v = read_ct2(tmp_path / "model.bin")
    assert spec == "WhisperSpec"
    assert v["a"].shape == (2, 3) and v["a"][1, 2] == 5.0
    assert v["b"].dtype == np.float16 and v["c"].tolist() == [-3, 7] and int(v["d"]) == 8
    assert v["e"].tolist() == [1.5, -2.0]  # bfloat16 widened exactly
    assert v["f"] is v["a"]


def test_read_ct2_rejects_a_file_that_is_not_a_model(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00garbage")
    with pytest.raises(ModelNotAvailable, match="not a readable CTranslate2"):
        read_ct2(tmp_path / "model.bin")


def test_tiny_en_dims_match_the_published_architecture(tiny_checkpoint):
    assert tiny_checkpoint["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,  # English-only vocabulary
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }


def test_fused_attention_is_split_into_query_key_value(tiny_dir, tiny_checkpoint):
    _, v = read_ct2(tiny_dir / "model.bin")
    state = tiny_checkpoint["model_state_dict"]
    fused = v["decoder/layer_2/self_attention/linear_0/weight"]
    q, k, val = (state[f"decoder.blocks.2.attn.{n}.weight"].numpy() for n in ("query", "key", "value"))
    assert np.array_equal(np.concatenate([q, k, val]), fused)
    kv = v["decoder/layer_2/attention/linear_1/weight"]
    cross = [state[f"decoder.blocks.2.cross_attn.{n}.weight"].numpy() for n in ("key", "value")]
    assert np.array_equal(np.concatenate(cross), kv)
    assert "decoder.blocks.2.attn.key.bias" not in state  # openai-whisper's key projection has no bias


def test_whisper_loads_the_checkpoint_strictly_with_its_alignment_heads(tmp_path, tiny_dir):
    whisper = pytest.importorskip("whisper")
    import torch

    path = convert(tiny_dir, tmp_path / "tiny.en.pt")
    model = whisper.load_model(str(path), device="cpu")  # load_state_dict is strict: no key missing or extra
    assert model.dims.n_vocab == 51864 and not model.is_multilingual
    model.set_alignment_heads(torch.load(path, weights_only=True)["alignment_heads"])
    heads = json.loads((tiny_dir / "config.json").read_text())["alignment_heads"]
    assert sorted(model.alignment_heads.indices().T.tolist()) == sorted(heads)


def test_int8_weights_are_dequantised(tmp_path, tiny_dir, tiny_checkpoint):
    """Quantise tiny.en the way CTranslate2 does (per row, scale 127 / max|w|), then convert it back."""
    _, v = read_ct2(tiny_dir / "model.bin")
    quantised = {}
    for name, value in v.items():
        if name.endswith("/weight") and value.ndim >= 2 and name != "decoder/projection/weight":
            rows = value.astype(np.float32).reshape(value.shape[0], -1)
            scale = 127.0 / np.abs(rows).max(axis=1)
            quantised[name] = np.rint(rows * scale[:, None]).astype(np.int8).reshape(value.shape)
            quantised[name.replace("/weight", "/weight_scale")] = scale.astype(np.float32)
        elif name != "decoder/projection/weight":
            quantised[name] = value
    int8_dir = tmp_path / "tiny-int8"
    int8_dir.mkdir()
    write_ct2(int8_dir / "model.bin", quantised, aliases=[("decoder/projection/weight", "decoder/embeddings/weight")])
    shutil.copy(tiny_dir / "config.json", int8_dir)
    state = ct2_to_openai(int8_dir)["model_state_dict"]
    for name, reference in tiny_checkpoint["model_state_dict"].items():
        original = reference.float().numpy()
        step = np.abs(original).reshape(original.shape[0], -1).max(axis=1) / 127 if original.ndim >= 2 else 0
        tolerance = np.reshape(step, (-1,) + (1,) * (original.ndim - 1)) * 0.5 + 1e-6
        assert np.all(np.abs(state[name].float().numpy() - original) <= tolerance), name


def test_converted_base_encoder_matches_ctranslate2():
    """Same mel in, same encoder states out: the converted weights are CTranslate2's weights."""
    whisper = pytest.importorskip("whisper")
    import ctranslate2
    import torch

    base = model_dir("base")
    checkpoint = ct2_to_openai(base)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    audio = whisper.load_audio(str(TEST_DATA / "jfk.flac"))
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio))[None]
    with torch.no_grad():
        ours = model.encoder(mel).numpy()
    reference = ctranslate2.models.Whisper(str(base), device="cpu", compute_type="float32", intra_threads=2)
    encoded = reference.encode(ctranslate2.StorageView.from_array(mel.numpy()))
    theirs = np.array(encoded.to_device(ctranslate2.Device.cpu))
    assert ours.shape == theirs.shape == (1, 1500, 512)
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()


def test_a_model_that_is_not_whisper_is_refused(tmp_path):
    write_ct2(tmp_path / "model.bin", {"x": np.zeros(2, np.float32)}, spec="TransformerSpec")
    with pytest.raises(ModelNotAvailable, match="TransformerSpec"):
        ct2_to_openai(tmp_path)


def test_a_whisper_model_with_missing_variables_is_refused(tmp_path):
    write_ct2(tmp_path / "model.bin", {"encoder/num_heads": np.array(6, np.int16)})
    with pytest.raises(ModelNotAvailable, match="model.bin has no encoder/conv1/weight"):
        ct2_to_openai(tmp_path)
