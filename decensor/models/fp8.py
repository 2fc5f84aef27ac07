"""Convert a block-FP8 checkpoint (DeepSeek-V3/R1, Kimi-K2) to bf16 safetensors, shard by shard.

These checkpoints store most linear weights as ``float8_e4m3fn`` with one float32 scale per 128 x 128
block in ``<name>_scale_inv`` (the name says "inverse", but the stored value *multiplies*: DeepSeek's
own ``weight_dequant`` computes ``weight * scale_inv``). LoRA trainers, bitsandbytes and most CPUs cannot
use them as they are, and loading them with a second quantization config raises; so this module:

- dequantises every FP8 weight with its block scales to bf16, one input shard at a time (memory bounded
  by the largest shard, not the model), reading a scale from another shard when the index puts it there;
- writes a clean ``config.json`` (no ``quantization_config``; ``dtype`` bfloat16) and copies the tokenizer,
  generation config, chat template and any code files (they run only with consent, see remote_code);
- checks that every source weight has an output (no layer left uninitialised, a known pitfall of
  conversion scripts), every shape is kept and no value is NaN/inf, and writes ``conversion_manifest.json``
  with the SHA-256 of every output file, which :func:`verify_manifest` re-checks.

A stopped conversion resumes: finished output shards that match the manifest-in-progress are kept.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch

from decensor.errors import UserError
from decensor.hashing import sha256_file

logger = logging.getLogger(__name__)

SCALE_SUFFIX = "_scale_inv"
FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
WEIGHT_FILES = (".safetensors", ".bin", ".pt", ".pth")
PARTIAL = "conversion_manifest.partial.json"
MANIFEST = "conversion_manifest.json"


class ConversionError(UserError, ValueError):
    """The source is not a block-FP8 checkpoint this converter understands, or a check failed."""


def dequantize_blocks(weight: torch.Tensor, scale_inv: torch.Tensor, block: tuple[int, int] = (128, 128),
                      dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """``weight`` (FP8, [rows, cols]) times its per-block scale ([ceil(rows/b0), ceil(cols/b1)])."""
    rows, cols = weight.shape
    expected = (-(-rows // block[0]), -(-cols // block[1]))
    if tuple(scale_inv.shape) != expected:
        raise ConversionError(f"scale shape {tuple(scale_inv.shape)} does not match weight {tuple(weight.shape)} "
                              f"in {block[0]}x{block[1]} blocks (expected {expected})")
    scale = scale_inv.float().repeat_interleave(block[0], 0)[:rows].repeat_interleave(block[1], 1)[:, :cols]
    return (weight.float() * scale).to(dtype)


def _weight_map(src: Path) -> dict[str, str]:
    index = src / "model.safetensors.index.json"
    if index.is_file():
        return json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    single = src / "model.safetensors"
    if not single.is_file():
        raise ConversionError(f"{src}: no model.safetensors.index.json or model.safetensors")
    from safetensors import safe_open

    with safe_open(str(single), "pt") as f:
        return {name: single.name for name in f.keys()}


def _block_size(config: dict) -> tuple[int, int]:
    quant = config.get("quantization_config") or {}
    block = quant.get("weight_block_size") or [128, 128]
    return int(block[0]), int(block[1])


def convert_fp8_checkpoint(src: str | Path, dst: str | Path, dtype: torch.dtype = torch.bfloat16,
                           progress: bool = True) -> dict:
    """Dequantise the FP8 checkpoint in ``src`` into ``dst``; returns the manifest written there."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ConversionError(f"{dst}: the output folder must differ from the source")
    config_path = src / "config.json"
    if not config_path.is_file():
        raise ConversionError(f"{src}: no config.json")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    block = _block_size(config)
    weight_map = _weight_map(src)
    shards = sorted(set(weight_map.values()))
    dst.mkdir(parents=True, exist_ok=True)
    partial_path = dst / PARTIAL
    partial = json.loads(partial_path.read_text()) if partial_path.is_file() else {"files": {}, "tensors": {}}

    handles: dict[str, object] = {}

    def tensor(name: str) -> torch.Tensor:
        shard = weight_map[name]
        if shard not in handles:
            handles[shard] = safe_open(str(src / shard), "pt")
        return handles[shard].get_tensor(name)

    new_map: dict[str, str] = {}
    converted = 0
    for shard in tqdm(shards, desc="dequantising shards", disable=not progress):
        names = [n for n, s in weight_map.items() if s == shard and not n.endswith(SCALE_SUFFIX)]
        out_file = dst / shard
        done = partial["files"].get(shard)
        if done and out_file.is_file() and sha256_file(out_file) == done:
            new_map.update({n: shard for n in names})
            continue   # finished before an interruption
        out: dict[str, torch.Tensor] = {}
        for name in names:
            value = tensor(name)
            scale_name = name + SCALE_SUFFIX
            if value.dtype in FP8_DTYPES:
                if scale_name not in weight_map:
                    raise ConversionError(f"{src / shard}: {name} is {value.dtype} but has no {scale_name}")
                value = dequantize_blocks(value, tensor(scale_name), block, dtype)
                converted += 1
            elif value.is_floating_point() and value.dtype != torch.float32:
                value = value.to(dtype)
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ConversionError(f"{src / shard}: {name} has NaN or inf values after conversion")
            out[name] = value.contiguous()
            partial["tensors"][name] = list(value.shape)
            new_map[name] = shard
        tmp = out_file.with_suffix(".tmp")
        save_file(out, str(tmp), metadata={"format": "pt"})
        tmp.replace(out_file)
        partial["files"][shard] = sha256_file(out_file)
        partial_path.write_text(json.dumps(partial, indent=1))
        handles.pop(shard, None)

    missing = [n for n in weight_map if not n.endswith(SCALE_SUFFIX) and n not in new_map]
    if missing:
        raise ConversionError(f"{dst}: {len(missing)} source weights have no output (e.g. {missing[:3]})")
    if len(shards) > 1 or (src / "model.safetensors.index.json").is_file():
        total = sum((dst / s).stat().st_size for s in shards)
        (dst / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {"total_size": total}, "weight_map": dict(sorted(new_map.items()))}, indent=2))

    clean = {k: v for k, v in config.items() if k != "quantization_config"}
    clean["dtype"] = str(dtype).removeprefix("torch.")
    clean.pop("torch_dtype", None)
    (dst / "config.json").write_text(json.dumps(clean, indent=2, ensure_ascii=False), encoding="utf-8")
    for path in sorted(src.iterdir()):
        skip = (path.suffix in WEIGHT_FILES or path.name in ("config.json", "model.safetensors.index.json")
                or path.name.startswith("conversion_manifest"))
        if path.is_file() and not skip:
            shutil.copy2(path, dst / path.name)

    manifest = {"source": str(src), "dtype": clean["dtype"], "block_size": list(block),
                "fp8_weights_dequantised": converted, "tensors": partial["tensors"],
                "files": {p.name: sha256_file(p) for p in sorted(dst.iterdir())
                          if p.is_file() and not p.name.startswith("conversion_manifest")}}
    (dst / MANIFEST).write_text(json.dumps(manifest, indent=1))
    partial_path.unlink(missing_ok=True)
    verify_manifest(dst)
    logger.info("converted %d FP8 weights from %s into %s", converted, src, dst)
    return manifest


def verify_manifest(folder: str | Path) -> None:
    """Re-check every file's SHA-256 and every tensor's shape against ``conversion_manifest.json``."""
    from safetensors import safe_open

    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    for name, digest in manifest["files"].items():
        if not (folder / name).is_file() or sha256_file(folder / name) != digest:
            raise ConversionError(f"{folder / name}: checksum does not match {MANIFEST}")
    seen = {}
    for shard in sorted(p for p in folder.glob("*.safetensors")):
        with safe_open(str(shard), "pt") as f:
            for name in f.keys():
                seen[name] = list(f.get_slice(name).get_shape())
    for name, shape in manifest["tensors"].items():
        if seen.get(name) != shape:
            raise ConversionError(f"{folder}: tensor {name} has shape {seen.get(name)}, manifest says {shape}")
