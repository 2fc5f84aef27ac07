"""``decensor data``: check the curated data, print balance tables, mine on-policy DPO pairs."""

from __future__ import annotations

import argparse
import sys

HELP = """examples:
  decensor data check                      # data/sft + data/dpo against eval/suites
  decensor data check data/sft/sensitive-1.jsonl data/dpo/sensitive-1.jsonl
  decensor data stats --markdown
  decensor data mine --model demo --limit 120 --max-new-tokens 160
  decensor data mine --model Qwen/Qwen2.5-7B-Instruct --adapter runs/qwen7b-sft --out data/dpo/mined-qwen7b-sft.jsonl
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("data", help="check the curated data, mine on-policy DPO pairs, print balance tables",
                                   description=__doc__, epilog=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    from decensor.data.check import NEAR_DUP_THRESHOLD, REVIEW_THRESHOLD

    check = sub.add_parser("check", help="validate SFT/DPO files: schema, pairs, duplicates, eval leaks; balance table",
                           description="Validate SFT and DPO files (default data/sft and data/dpo): schema "
                                       "(data/SCHEMA.md), pairs, DPO rows against SFT rows, exact and near-duplicate "
                                       "prompts, and leaks of evaluation prompts (eval/suites). Errors print as "
                                       "`path:line: field: message` and make the command exit 1. Near duplicates: "
                                       "Jaccard similarity of character n-grams (3 for Chinese, 5 otherwise) of the "
                                       f"normalised prompt; >= {NEAR_DUP_THRESHOLD} is an error, >= "
                                       f"{REVIEW_THRESHOLD} a warning to review.")
    check.add_argument("paths", nargs="*", help="files or folders (default: data/sft data/dpo)")
    check.add_argument("--suites", nargs="+", help="evaluation files/folders to check leaks against "
                                                   "(default: eval/suites)")
    check.add_argument("--threshold", type=float, default=NEAR_DUP_THRESHOLD, help="near-duplicate Jaccard threshold")
    check.add_argument("--review", type=float, default=REVIEW_THRESHOLD,
                       help="Jaccard from which a pair is listed as a warning to review")
    check.add_argument("--judge", action="store_true",
                       help="also run the rule judge on the curated answers and warn where it flags them")
    check.add_argument("--no-warnings", action="store_true", help="print only errors and their count of warnings")
    check.add_argument("--no-table", action="store_true", help="skip the balance table")
    check.set_defaults(func=run_check)

    stats = sub.add_parser("stats", help="balance tables: rows per topic x language x kind, DPO rejected types",
                           description="Counts per topic x language x kind (SFT), totals, innocent share, and DPO "
                                       "rows per origin x kind x rejected_type. No validation (see `data check`).")
    stats.add_argument("paths", nargs="*", help="files or folders (default: data/sft data/dpo)")
    stats.add_argument("--markdown", action="store_true", help="print Markdown tables (for data/README.md)")
    stats.set_defaults(func=run_stats)

    mine = sub.add_parser("mine", help="generate the model's answers to the training prompts; keep the flagged ones "
                                       "as DPO rejected answers",
                          description="Answer the SFT prompts with a model (batched, cached and resumable), label the "
                                      "answers with the rule judge, and write on-policy DPO rows: the flagged answer "
                                      "as `rejected` (refusal / official-line / propaganda-framing / "
                                      "harmful-compliance), our curated answer as `chosen`. Unflagged answers are "
                                      "counted in the summary, not written.")
    mine.add_argument("--model", required=True, help="Hub id, local folder, or `demo` (the offline Qwen model)")
    mine.add_argument("--adapter", help="LoRA adapter folder to apply")
    mine.add_argument("--revision", default="main")
    mine.add_argument("--trust-remote-code", action="store_true")
    mine.add_argument("--dtype", default=None, help="default: float32 for demo, else auto")
    mine.add_argument("--sft", nargs="+", help="SFT files/folders whose prompts are mined (default: data/sft)")
    mine.add_argument("--out", help="output JSONL (default: data/dpo/mined-<model>.jsonl)")
    mine.add_argument("--tag", default="mined", help="suffix of the written ids (default: mined)")
    mine.add_argument("--limit", type=int, help="mine at most N prompts (whole en/zh pairs, spread over topics)")
    mine.add_argument("--kinds", nargs="+", choices=["sensitive", "innocent", "harmful-refusal"])
    mine.add_argument("--langs", nargs="+", choices=["en", "zh", "zh-Hant"])
    mine.add_argument("--max-new-tokens", type=int, default=256)
    mine.add_argument("--batch-size", type=int, default=8)
    mine.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    mine.add_argument("--think", choices=["on", "off"], help="Qwen3 thinking mode")
    mine.add_argument("--backend", default="transformers", choices=["transformers", "vllm"])
    mine.add_argument("--threads", type=int, help="torch CPU threads (on a busy shared CPU, 1 can be several times "
                                                  "faster than the default)")
    mine.add_argument("--no-progress", action="store_true")
    mine.set_defaults(func=run_mine)
    return {"data"}


def _print_issues(report, show_warnings: bool) -> None:
    for issue in report.errors:
        print(issue)
    if show_warnings:
        for issue in report.warnings:
            print(f"warning: {issue}")


def run_check(args) -> int:
    from rich.console import Console

    from decensor.data.check import check_data, print_balance, print_rejected

    report = check_data(args.paths or None, suites=args.suites, threshold=args.threshold, review=args.review,
                        judge=args.judge)
    _print_issues(report, not args.no_warnings)
    console = Console()
    if not args.no_table:
        print_balance(report.sft, console=console)
        print_rejected(report.dpo, console=console)
    summary = (f"{len(report.files)} files, {len(report.sft)} SFT rows, {len(report.dpo)} DPO rows, checked against "
               f"{report.n_eval_prompts} evaluation prompts (near-duplicate Jaccard >= {report.threshold}): "
               f"{len(report.errors)} errors, {len(report.warnings)} warnings")
    print(summary, file=sys.stderr if report.errors else sys.stdout)
    return 1 if report.errors else 0


def run_stats(args) -> int:
    from decensor.data.check import (CheckReport, default_paths, markdown_balance, markdown_rejected, print_balance,
                                     print_rejected, read_rows)

    report = CheckReport()
    read_rows(args.paths or default_paths(), report)
    for issue in report.errors:
        print(issue, file=sys.stderr)
    if args.markdown:
        print(markdown_balance(report.sft))
        if report.dpo:
            print()
            print(markdown_rejected(report.dpo))
    else:
        print_balance(report.sft)
        print_rejected(report.dpo)
    return 1 if report.errors else 0


def run_mine(args) -> int:
    from decensor.data.mine import MineArguments, format_summary, mine

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = mine(MineArguments(
        model=args.model, adapter=args.adapter, revision=args.revision, trust_remote_code=args.trust_remote_code,
        dtype=args.dtype, sft=args.sft, out=args.out, tag=args.tag, limit=args.limit, kinds=args.kinds,
        langs=args.langs, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, do_sample=args.sample,
        enable_thinking=None if args.think is None else args.think == "on", backend=args.backend,
        progress=not args.no_progress))
    print(format_summary(result))
    return 0
