"""``decensor plan``: estimate per-GPU memory of a recipe under DeepSpeed ZeRO-3 and say whether it fits."""

from __future__ import annotations

import argparse
import json
import sys

HELP = """examples:
  decensor plan recipes/qwen2.5-72b-instruct/sft-qlora.yaml --gpus 8 --gpu-mem 80
  decensor plan recipes/deepseek-v3/sft-qlora.yaml --gpus 16 --gpu-mem 80 --json
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("plan", help="estimate memory per GPU for a recipe and say whether it fits",
                                   description=__doc__, epilog=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="recipe YAML")
    parser.add_argument("--gpus", type=int, default=8, help="number of GPUs (default 8)")
    parser.add_argument("--gpu-mem", type=float, default=80.0, help="memory per GPU in GiB (default 80)")
    parser.add_argument("--override", "-o", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.set_defaults(func=run)
    return {"plan"}


def run(args) -> int:
    from decensor.train.config import RecipeError, load_recipe
    from decensor.train.plan import format_plan, plan_input_from_recipe, plan_summary

    try:
        recipe = load_recipe(args.recipe, args.override, build_training=False)
        p = plan_input_from_recipe(recipe)
    except (RecipeError, KeyError) as err:
        print(f"decensor plan: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan_summary(p, args.gpus, args.gpu_mem), indent=2))
    else:
        print(format_plan(p, args.gpus, args.gpu_mem))
    return 0
