"""``decensor demo``: the offline Qwen model, the same model with a plain system prompt, SFT and SFT+DPO,
evaluated on the same prompts (seen and unseen topics, English and Chinese), mined, trained, reported."""

from __future__ import annotations

import argparse
import sys

from decensor.demo import STAGES


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser(
        "demo", help="the whole job on the offline Qwen model: evaluate, mine, train, re-evaluate, report",
        description=__doc__ + "\n\nStages: " + ", ".join(STAGES) + ". Interrupt it any time: a re-run skips "
        "finished stages and training resumes from its last checkpoint. Sized for 50 minutes on 2 CPU cores "
        "(--plan shows the arithmetic); --quick takes a few minutes.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few-minute smoke version (what CI runs)")
    parser.add_argument("--run-dir", help="where the demo writes (default runs/demo or runs/demo-quick)")
    parser.add_argument("--fresh", action="store_true", help="delete an earlier run of this demo first (asks)")
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting with --fresh")
    parser.add_argument("--plan", action="store_true",
                        help="print the stage budget (measured per-unit costs x this demo's counts = predicted "
                             "minutes per stage), beside the measured minutes of the run folder's finished stages; runs nothing")
    parser.set_defaults(func=run)
    return {"demo"}


def run(args) -> int:
    from decensor.demo import Demo, format_plan, plan, reset

    demo = Demo(args.run_dir, quick=args.quick)
    if args.plan:
        print(format_plan(plan(demo.settings), demo.measured_seconds()))
        return 0
    if args.fresh:
        def confirm(question: str) -> bool:
            if args.yes:
                return True
            if not sys.stdin.isatty():
                print(f"{question} Refusing without a terminal; pass --yes.", file=sys.stderr)
                return False
            return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

        if not reset(demo.run, confirm):
            return 1
    demo.run_all()
    return 0
