"""The ``decensor`` command line.

Each command lives in ``decensor/cli/<command>.py`` and defines ``register(subparsers)``, which adds its
parser and sets ``func``. Commands of a later release appear in ``--help`` and say which one adds them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from decensor import __version__

# command -> (module, one-line help). Order is the order of `decensor --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("decensor.cli.demo", "the whole job on the offline Qwen model: evaluate, mine, train, re-evaluate, report"),
    "model": ("decensor.cli.model", "fetch the offline demo model, chat with a model, list model families"),
    "data": ("decensor.cli.data", "check the curated data, mine on-policy DPO pairs, print balance tables"),
    "train": ("decensor.cli.train", "run one SFT or DPO recipe (LoRA/QLoRA, DeepSpeed ZeRO-3 under accelerate)"),
    "plan": ("decensor.cli.plan", "estimate memory per GPU for a recipe and say whether it fits"),
    "merge": ("decensor.cli.merge", "fold a LoRA adapter into full weights"),
    "eval": ("decensor.cli.eval", "evaluate refusal, official narrative, leakage, facts, safety; compare runs"),
    "report": ("decensor.cli.report", "write the policy report (HTML + Markdown + JSON) from eval results"),
    "push": ("decensor.cli.push", "upload an adapter or merged model with a model card to the Hugging Face Hub"),
    "push-data": ("decensor.cli.push", "upload the curated dataset with a dataset card to the Hugging Face Hub"),
}
# Commands not built yet: which release/issue adds them.
PLANNED = {
    "demo": "0.5 (issue #7)", "data": "0.2 (issue #3)", "train": "0.3 (issue #4)", "plan": "0.3 (issue #4)",
    "merge": "0.3 (issue #4)", "eval": "0.2 (issue #5)", "report": "0.4 (issue #6)", "push": "0.4 (issue #6)",
    "push-data": "0.4 (issue #6)",
}


def _placeholder(name: str, helptext: str, subparsers) -> None:
    parser = subparsers.add_parser(name, help=f"{helptext} [not built yet: added in release {PLANNED[name]}]",
                                   description=f"{helptext}. Not built yet: added in release {PLANNED[name]}.")
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def run(args) -> int:
        print(f"decensor {name}: not built yet; release {PLANNED[name]} adds it.", file=sys.stderr)
        return 2

    parser.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decensor",
        description="Post-train Chinese open-weight LLMs to drop political censorship and Party framing, "
                    "and prove it with evaluation. Run `decensor COMMAND --help` for each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"decensor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for name, (module_name, helptext) in COMMANDS.items():
        if name in registered:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            _placeholder(name, helptext, subparsers)
            continue
        registered.update(module.register(subparsers) or {name})
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
