"""``decensor train RECIPE [--key value ...]``: run one SFT or DPO recipe in this process.

``accelerate launch -m decensor.train RECIPE [--key value ...]`` runs the same function in each process.
Any recipe key can be overridden on the command line, typed by TRL's parser like the recipe itself."""

from __future__ import annotations

import argparse

HELP = """examples:
  decensor train recipes/demo-cpu/sft.yaml
  decensor train recipes/demo-cpu/dpo.yaml --max_steps 10 --beta 0.2
  decensor train recipes/qwen2.5-7b-instruct/sft-qlora.yaml --output_dir runs/try1 --overwrite
  decensor train recipes/demo-cpu/sft.yaml --help        (every recipe key, with its type and default)

multi-GPU (DeepSpeed ZeRO-3), from the repository root:
  accelerate launch --config_file ds_configs/accelerate/zero3-1node-8gpu.yaml -m decensor.train RECIPE [--key value ...]

A run folder that did not finish resumes from its last checkpoint; a finished one is kept unless --overwrite,
which removes only the files a decensor run wrote there.
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("train", help="run one SFT or DPO recipe (LoRA/QLoRA)", description=__doc__,
                                   epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="recipe YAML")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, metavar="--key value",
                        help="override recipe keys, e.g. --max_steps 5 --learning_rate 1e-4 --overwrite")
    parser.set_defaults(func=run)
    return {"train"}


def run(args) -> int:
    from decensor.train import run_recipe

    print(run_recipe(args.recipe, args.overrides))
    return 0
