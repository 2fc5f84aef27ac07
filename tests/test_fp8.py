"""Block-FP8 checkpoints (DeepSeek-V3/R1, Kimi-K2) converted to bf16, checked against a reference."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from decensor.cli import main
from decensor.models.fp8 import ConversionError, convert_fp8_checkpoint, dequantize_blocks, verify_manifest
from decensor.testing import build_tiny_model

BLOCK = 16   # small blocks so a tiny model has several per weight (real checkpoints use 128)


def quantize_blocks(weight: torch.Tensor, block: int = BLOCK):
    """Reference block quantisation as DeepSeek's checkpoints store it: fp8 values and per-block scales."""
    rows, cols = weight.shape
    br, bc = -(-rows // block), -(-cols // block)
    scale = torch.empty(br, bc)
    q = torch.empty_like(weight, dtype=torch.float8_e4m3fn)
    for i in range(br):
        for j in range(bc):
            tile = weight[i * block:(i + 1) * block, j * block:(j + 1) * block]
            s = tile.abs().max().clamp(min=1e-12) / 448.0
            scale[i, j] = s
            q[i * block:(i + 1) * block, j * block:(j + 1) * block] = (tile / s).to(torch.float8_e4m3fn)
    return q, scale


@pytest.fixture
def fp8_checkpoint(tmp_path):
    """A tiny DeepSeek-V3 checkpoint with its 2-D linear weights stored in block FP8, split over two shards,
    with one scale deliberately stored in the *other* shard (real checkpoints do this)."""
    src = build_tiny_model("deepseek-v3", tmp_path / "bf16")
    with safe_open(str(src / "model.safetensors"), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    reference, quantized = {}, {}
    for name, value in tensors.items():
        if name.endswith(".weight") and value.dim() == 2 and "norm" not in name and "embed" not in name:
            q, scale = quantize_blocks(value)
            quantized[name], quantized[name + "_scale_inv"] = q, scale
            reference[name] = (q.float() * scale.repeat_interleave(BLOCK, 0)[:value.shape[0]]
                               .repeat_interleave(BLOCK, 1)[:, :value.shape[1]]).to(torch.bfloat16)
        else:
            quantized[name] = value
    names = sorted(n for n in quantized if not n.endswith("_scale_inv"))
    first = set(names[: len(names) // 2])
    moved = next(n for n in sorted(first) if n + "_scale_inv" in quantized)
    shard_of = {n: ("model-00001-of-00002.safetensors" if n in first else "model-00002-of-00002.safetensors")
                for n in names}
    for n in names:
        if n + "_scale_inv" in quantized:
            shard_of[n + "_scale_inv"] = shard_of[n]
    shard_of[moved + "_scale_inv"] = "model-00002-of-00002.safetensors"
    fp8 = tmp_path / "fp8"
    fp8.mkdir()
    for shard in set(shard_of.values()):
        save_file({n: quantized[n].contiguous() for n, s in shard_of.items() if s == shard}, str(fp8 / shard))
    (fp8 / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": shard_of}))
    config = json.loads((src / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                     "weight_block_size": [BLOCK, BLOCK]}
    (fp8 / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        (fp8 / name).write_bytes((src / name).read_bytes())
    return fp8, reference, len(names)


def test_block_dequantisation_handles_ragged_edges():
    weight = torch.randn(40, 24)
    q, scale = quantize_blocks(weight)
    out = dequantize_blocks(q, scale, (BLOCK, BLOCK), torch.float32)
    assert out.shape == weight.shape
    assert (out - weight).abs().max() < 0.08 * weight.abs().max()   # e4m3 keeps ~3 mantissa bits
    with pytest.raises(ConversionError, match="does not match"):
        dequantize_blocks(q, scale[:, :1], (BLOCK, BLOCK))


def test_conversion_matches_the_reference_and_loads(fp8_checkpoint, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    src, reference, n_tensors = fp8_checkpoint
    dst = tmp_path / "converted"
    assert main(["model", "convert-fp8", str(src), str(dst)]) == 0
    assert f"{len(reference)} FP8 weights dequantised" in capsys.readouterr().out
    config = json.loads((dst / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "bfloat16"
    assert (dst / "tokenizer.json").is_file() and (dst / "generation_config.json").is_file()
    worst = 0.0
    index = json.loads((dst / "model.safetensors.index.json").read_text())["weight_map"]
    assert len(index) == n_tensors and not any(n.endswith("_scale_inv") for n in index)
    for name, expected in reference.items():
        with safe_open(str(dst / index[name]), "pt") as f:
            got = f.get_tensor(name)
        assert got.dtype == torch.bfloat16 and got.shape == expected.shape
        worst = max(worst, (got.float() - expected.float()).abs().max().item())
    print(f"max abs error against the reference dequantisation: {worst:.3g}")
    assert worst == 0.0
    model = AutoModelForCausalLM.from_pretrained(dst, dtype=torch.float32)
    assert torch.isfinite(model(input_ids=torch.tensor([[1, 2, 3]])).logits).all()


def test_an_interrupted_conversion_resumes_without_redoing_finished_shards(fp8_checkpoint, tmp_path, monkeypatch):
    import safetensors.torch

    src, _, _ = fp8_checkpoint
    dst = tmp_path / "converted"
    real_save, calls = safetensors.torch.save_file, []

    def save_then_die(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed while writing the second shard")
        real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        convert_fp8_checkpoint(src, dst, progress=False)
    first = dst / "model-00001-of-00002.safetensors"
    stamp = first.stat().st_mtime_ns
    monkeypatch.setattr(safetensors.torch, "save_file", real_save)
    convert_fp8_checkpoint(src, dst, progress=False)
    assert first.stat().st_mtime_ns == stamp, "the finished shard was converted again"
    verify_manifest(dst)


def test_manifest_catches_a_changed_byte(fp8_checkpoint, tmp_path):
    src, _, _ = fp8_checkpoint
    dst = tmp_path / "converted"
    convert_fp8_checkpoint(src, dst, progress=False)
    verify_manifest(dst)
    shard = dst / "model-00001-of-00002.safetensors"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ConversionError, match="checksum"):
        verify_manifest(dst)


def test_a_weight_without_its_scale_is_an_error(fp8_checkpoint, tmp_path):
    src, _, _ = fp8_checkpoint
    index_path = src / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if not k.endswith("o_proj.weight_scale_inv")}
    index_path.write_text(json.dumps(index))
    with pytest.raises(ConversionError, match="has no .*_scale_inv"):
        convert_fp8_checkpoint(src, tmp_path / "out", progress=False)


def test_our_conversion_agrees_with_transformers_own_fp8_loader(fp8_checkpoint, tmp_path):
    """The no-conversion path: transformers loads block-FP8 checkpoints itself (FP8 kernels with a LoRA-able
    backward on Hopper; dequantised to bf16 on a CPU). Both readings of the same file must agree.

    Only on weights whose shape is a whole number of blocks: transformers' CPU dequantisation derives the block
    from the scale grid (rows // scale_rows), which is wrong for ragged edges (a 24-row weight in 16-row
    blocks is read as 12-row blocks; DeepSeek-V3's 576-row kv_a_proj_with_mqa in 128-row blocks does not divide
    and raises). That is why `decensor model convert-fp8` exists."""
    from transformers import AutoModelForCausalLM

    src, reference, _ = fp8_checkpoint
    direct = dict(AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16).named_parameters())
    convert_fp8_checkpoint(src, tmp_path / "c", progress=False)
    converted = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "c", dtype=torch.bfloat16).named_parameters())
    whole_blocks = [n for n, w in reference.items() if n in direct and w.shape[0] % BLOCK == 0 and w.shape[1] % BLOCK == 0]
    assert len(whole_blocks) >= 10
    for name in whole_blocks:
        assert torch.equal(direct[name], converted[name]), name
