"""``python -m decensor.train RECIPE [key=value ...] [--overwrite]``; the entry point for ``accelerate launch``:

    accelerate launch --config_file ds_configs/accelerate/zero3-1node-8gpu.yaml -m decensor.train \\
        recipes/qwen2.5-7b-instruct/sft-qlora.yaml
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m decensor.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="recipe YAML (recipes/<model>/<stage>-<lora|qlora>.yaml)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of recipe keys")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="same as a positional key=value")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in output_dir")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    from decensor.train import run_recipe
    from decensor.train.config import RecipeError
    from decensor.train.run import RunExistsError

    try:
        out = run_recipe(args.recipe, args.overrides + args.override, overwrite=args.overwrite)
    except (RecipeError, RunExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
