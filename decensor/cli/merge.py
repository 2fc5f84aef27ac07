"""``decensor merge``: fold a LoRA adapter into the base weights and save a plain safetensors model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = """examples:
  decensor merge runs/demo-dpo --out runs/demo-merged
  decensor merge runs/qwen7b-dpo --out merged/qwen7b --base Qwen/Qwen2.5-7B-Instruct --dtype bfloat16

The base model is read from the adapter (adapter_config.json base_model_name_or_path, or the run's
recipe.resolved.yaml); QLoRA adapters are merged into the bf16 base, never into 4-bit weights.
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("merge", help="fold a LoRA adapter into full weights", description=__doc__,
                                   epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("adapter", help="adapter folder (a finished run folder)")
    parser.add_argument("--out", required=True, help="folder for the merged model")
    parser.add_argument("--base", help="base model (Hub id, folder or 'demo'); default: from the adapter")
    parser.add_argument("--dtype", default="bfloat16", help="dtype of the merged weights (default bfloat16)")
    parser.add_argument("--revision", help="base model revision (a commit hash with --trust-remote-code)")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.set_defaults(func=run)
    return {"merge"}


def base_of(adapter: Path) -> dict:
    """Model arguments of the adapter's base: from the run's resolved recipe, else adapter_config.json."""
    import yaml

    resolved = adapter / "recipe.resolved.yaml"
    if resolved.exists():
        r = yaml.safe_load(resolved.read_text(encoding="utf-8"))
        keep = ("model_name_or_path", "model_revision", "trust_remote_code", "family", "gguf_file")
        return {k: r[k] for k in keep if r.get(k) is not None}
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    return {"model_name_or_path": cfg.get("base_model_name_or_path")}


def merge_adapter(adapter: str | Path, out: str | Path, base: str | None = None, dtype: str = "bfloat16",
                  revision: str | None = None, trust_remote_code: bool | None = None) -> Path:
    from peft import PeftModel

    from decensor.models.loading import ModelArguments, load_model, load_tokenizer

    adapter, out = Path(adapter), Path(out)
    if not (adapter / "adapter_config.json").exists():
        raise FileNotFoundError(f"{adapter}: no adapter_config.json")
    kwargs = base_of(adapter)
    if base:
        kwargs["model_name_or_path"] = base
    if revision:
        kwargs["model_revision"] = revision
    if trust_remote_code is not None and trust_remote_code:
        kwargs["trust_remote_code"] = True
    if not kwargs.get("model_name_or_path"):
        raise ValueError(f"{adapter}: cannot tell the base model; pass --base")
    args = ModelArguments(dtype=dtype, **kwargs)   # never 4-bit: merge into full-precision weights
    model = load_model(args, device_map="cpu")
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer_src = adapter if (adapter / "tokenizer_config.json").exists() else None
    if tokenizer_src:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(out)
    else:
        load_tokenizer(args).save_pretrained(out)
    (out / "merged_from.json").write_text(json.dumps({"adapter": str(adapter), "base": kwargs}, indent=2))
    return out


def run(args) -> int:
    try:
        out = merge_adapter(args.adapter, args.out, base=args.base, dtype=args.dtype, revision=args.revision,
                            trust_remote_code=args.trust_remote_code or None)
    except (FileNotFoundError, ValueError) as err:
        print(f"decensor merge: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0
