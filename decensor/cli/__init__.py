"""The ``decensor`` command line.

Each command lives in ``decensor/cli/<command>.py`` and defines ``register(subparsers)``, which adds its
parser and sets ``func``.

User errors end here, in one place (:func:`main`): a :class:`decensor.errors.UserError` (or one of the
library's located errors, a missing file, invalid UTF-8, ...) is printed as one line,
``decensor COMMAND: path:line:field: what is wrong; what to do``, exit status 2; ``-v`` adds the traceback.
Ctrl-C prints where the run is saved and the command that resumes it, exit status 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import sys
import traceback

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

# Located errors raised by library modules (module, class): caught only if that module was imported, since an
# error of a class from a module never imported cannot have been raised.
LIBRARY_ERRORS = (
    ("decensor.data.jsonl", "DataError"),
    ("decensor.models.remote_code", "RemoteCodePolicyError"),
    ("decensor.models.merge", "MergeError"),
    ("decensor.models.demo_model", "DemoModelError"),
    ("decensor.models.fp8", "ConversionError"),
    ("decensor.hub.push", "PushError"),
    ("decensor.eval.backends", "BackendUnavailable"),
)
OS_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decensor",
        description="Post-train Chinese open-weight LLMs to drop political censorship and Party framing, "
                    "and prove it with evaluation. Run `decensor COMMAND --help` for each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"decensor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages; show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for name, (module_name, _) in COMMANDS.items():
        if name not in registered:
            registered.update(importlib.import_module(module_name).register(subparsers) or {name})
    return parser


def user_error_types() -> tuple[type[BaseException], ...]:
    from decensor.errors import UserError

    found = [getattr(sys.modules[m], c) for m, c in LIBRARY_ERRORS if m in sys.modules and hasattr(sys.modules[m], c)]
    return (UserError, UnicodeDecodeError, *OS_ERRORS, *found)


def describe(err: BaseException) -> str:
    """One line for a user error: ``path:line:field: what is wrong; what to do``."""
    if isinstance(err, OS_ERRORS) and getattr(err, "filename", None):
        what = {FileNotFoundError: "no such file or folder", NotADirectoryError: "not a folder",
                IsADirectoryError: "is a folder, not a file", PermissionError: "permission denied",
                FileExistsError: "already exists"}.get(type(err), err.strerror)
        return f"{err.filename}: {what}; check the path"
    if isinstance(err, UnicodeDecodeError):
        return (f"not valid UTF-8 (byte 0x{err.object[err.start]:02x}); save the file as UTF-8 "
                "(run with -v to see which file)")
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _resume_command(argv: list[str]) -> str:
    return "decensor " + shlex.join(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    prog = f"decensor {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        if args.verbose:
            traceback.print_exc()
        saved = getattr(err, "saved", None)
        print(f"\n{prog}: interrupted." + (f" Saved: {saved}." if saved else ""), file=sys.stderr)
        print(f"Resume with: {_resume_command(argv)}", file=sys.stderr)
        return 130
    except user_error_types() as err:
        if args.verbose:
            traceback.print_exc()
        print(f"{prog}: {describe(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
