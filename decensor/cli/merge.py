"""``decensor merge``: fold a LoRA adapter into the base weights and save a plain safetensors model."""

from __future__ import annotations

import argparse

HELP = """examples:
  decensor merge runs/demo-dpo --out runs/demo-merged
  decensor merge runs/qwen7b-dpo --out merged/qwen7b --base Qwen/Qwen2.5-7B-Instruct --dtype bfloat16

The base model is read from the adapter (the run's recipe.resolved.yaml, else adapter_config.json
base_model_name_or_path); QLoRA adapters are merged into the bf16 base, never into 4-bit weights. A base
model that needs its own Python code runs it only with --trust-remote-code on this command line (or, for a
local folder, --remote-code-sha256 HASH): an adapter can ask for remote code, never allow it.
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("merge", help="fold a LoRA adapter into full weights", description=__doc__,
                                   epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("adapter", help="adapter folder (a finished run folder)")
    parser.add_argument("--out", required=True, help="folder for the merged model")
    parser.add_argument("--base", help="base model (Hub id, folder or 'demo'); default: from the adapter")
    parser.add_argument("--dtype", default="auto",
                        help="dtype of the merged weights (default: the base checkpoint's own dtype)")
    parser.add_argument("--revision", help="base model revision (a commit hash with --trust-remote-code)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="consent to run the base model's own Python code (pinned revision required)")
    parser.add_argument("--remote-code-sha256", help="consent for a local base folder: the hash its refusal printed")
    parser.set_defaults(func=run)
    return {"merge"}


def run(args) -> int:
    from decensor.models.merge import merge_adapter

    print(merge_adapter(args.adapter, args.out, base=args.base, dtype=args.dtype, revision=args.revision))
    return 0
