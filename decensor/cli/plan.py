"""``decensor plan``: per-GPU memory of a recipe under DeepSpeed ZeRO-3 (load peak and training) and a verdict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = """examples:
  decensor plan recipes/qwen2.5-72b-instruct/sft-qlora.yaml            # on the hardware the recipe names
  decensor plan recipes/deepseek-v3/sft-lora.yaml --nodes 2             # what if: 2 nodes of that GPU
  decensor plan recipes/qwen2.5-7b-instruct/sft-lora.yaml --gpus 1 --gpu-mem 40 --json
  decensor plan recipes/*/*.yaml --write-header                         # refresh every recipe's header
exit status: 0 fits, 1 does not fit (or a header changed with --check-header), 2 bad input
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("plan", help="per-GPU memory of a recipe (load peak, training) and whether it fits",
                                   description=__doc__, epilog=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="+", metavar="recipe", help="recipe YAML(s)")
    parser.add_argument("--hardware", help="override the recipe's `hardware`, e.g. '4 x 8 x H100 80GB'")
    parser.add_argument("--nodes", type=int, help="nodes (default: the recipe's hardware)")
    parser.add_argument("--gpus", type=int, help="GPUs per node (default: the recipe's hardware, else 8)")
    parser.add_argument("--gpu-mem", type=float, help="memory per GPU in GiB (default: the recipe's GPU, else 80)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument("--write-header", action="store_true",
                        help="rewrite each recipe's leading comment block with these numbers")
    parser.set_defaults(func=run)
    return {"plan"}


def _hardware(recipe, args):
    from dataclasses import replace

    from decensor.train.plan import Hardware, parse_hardware, recipe_hardware

    if args.hardware:
        hw = parse_hardware(args.hardware)
    else:
        try:
            hw = recipe_hardware(recipe)
        except ValueError as err:   # e.g. demo-cpu's "2 CPU cores": plan for the default GPU node instead
            print(f"decensor plan: {err}; planning for 8 x 80 GiB GPUs", file=sys.stderr)
            hw = None
    hw = hw or Hardware(nodes=1, gpus_per_node=8, gpu="80 GB GPU", gpu_gib=80.0)
    if args.nodes:
        hw = replace(hw, nodes=args.nodes)
    if args.gpus:
        hw = replace(hw, gpus_per_node=args.gpus)
    if args.gpu_mem:
        hw = replace(hw, gpu_gib=args.gpu_mem, gpu=f"{args.gpu_mem:g} GiB GPU")
    return hw


def run(args) -> int:
    from decensor.paths import REPO_ROOT
    from decensor.train.config import RecipeError, load_recipe
    from decensor.train.plan import format_plan, header_lines, plan_input_from_recipe, plan_summary, verdict, write_header

    status = 0
    for path in args.recipes:
        try:
            recipe = load_recipe(path, build_training=False)
            p = plan_input_from_recipe(recipe)
            hw = _hardware(recipe, args)
        except (RecipeError, KeyError, ValueError) as err:
            print(f"decensor plan: {path}: {err}", file=sys.stderr)
            return 2
        if args.write_header:
            if not recipe.recipe.hardware:
                print(f"decensor plan: {path}: no `hardware:` key, no header written", file=sys.stderr)
                return 2
            try:
                rel = str(Path(path).resolve().relative_to(REPO_ROOT))
            except ValueError:
                rel = str(path)
            try:
                changed = write_header(Path(path), header_lines(recipe, rel))
            except ValueError as err:
                print(f"decensor plan: {path}: {err}", file=sys.stderr)
                return 2
            print(f"{path}: header {'written' if changed else 'unchanged'}")
        elif args.json:
            print(json.dumps(plan_summary(p, hw), indent=2))
        else:
            if len(args.recipes) > 1:
                print(f"== {path}")
            print(format_plan(p, hw))
        if not verdict(p, hw).fits:
            status = max(status, 1)
    return status
