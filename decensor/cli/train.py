"""``decensor train``: run one SFT or DPO recipe in this process (the same code ``accelerate launch`` runs)."""

from __future__ import annotations

import argparse
import sys

HELP = """examples:
  decensor train recipes/demo-cpu/sft.yaml
  decensor train recipes/demo-cpu/dpo.yaml --override max_steps=10
  decensor train recipes/qwen2.5-7b-instruct/sft-qlora.yaml --override output_dir=runs/try1 --overwrite

multi-GPU (DeepSpeed ZeRO-3), from the repository root:
  accelerate launch --config_file ds_configs/accelerate/zero3-1node-8gpu.yaml -m decensor.train RECIPE
A run folder that did not finish resumes from its last checkpoint; a finished one is kept unless --overwrite.
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("train", help="run one SFT or DPO recipe (LoRA/QLoRA)", description=__doc__,
                                   epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="recipe YAML")
    parser.add_argument("--override", "-o", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (repeatable), e.g. --override max_steps=5")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in output_dir")
    parser.set_defaults(func=run)
    return {"train"}


def run(args) -> int:
    from decensor.train import run_recipe
    from decensor.train.config import RecipeError
    from decensor.train.run import RunExistsError

    try:
        out = run_recipe(args.recipe, args.override, overwrite=args.overwrite)
    except (RecipeError, RunExistsError) as err:
        print(f"decensor train: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0
