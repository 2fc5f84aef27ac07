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
  decensor train RECIPE --trust-remote-code               (run the model's own code: consent on the command line)
  decensor train RECIPE --remote-code-sha256 HASH         (consent to a local folder's code, by its hash)

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


def split_consent(tokens: list[str]) -> tuple[list[str], str | None]:
    """Take ``--remote-code-sha256 HASH`` (consent to a local model folder's code, not a recipe key) out of the
    overrides; ``--trust-remote-code`` stays, as it is both the consent and the recipe key."""
    from decensor.models.remote_code import HASH_FLAG

    rest, code_hash, skip = [], None, False
    for i, token in enumerate(tokens):
        name, eq, value = token.partition("=")
        if skip:
            skip = False
        elif name in (HASH_FLAG, "--remote_code_sha256"):
            code_hash = value if eq else (tokens[i + 1] if i + 1 < len(tokens) else None)
            skip = not eq
        else:
            rest.append(token)
    return rest, code_hash


def run(args) -> int:
    from decensor.models.remote_code import consent, consent_from_argv
    from decensor.train import run_recipe

    overrides, code_hash = split_consent(args.overrides)
    with consent(consent_from_argv(overrides).flag, code_hash):   # this invocation's consent, not sys.argv's
        print(run_recipe(args.recipe, overrides))
    return 0
