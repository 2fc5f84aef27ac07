"""``decensor report``: the policy report (HTML + Markdown + JSON, optionally PDF) from eval results."""

from __future__ import annotations

import argparse
import sys

HELP = """examples:
  decensor report runs/eval/base runs/eval/tuned --out reports/qwen7b
  decensor report runs/eval/base/results.json --out reports/base-only --title "Qwen2.5-7B: censorship audit"
  decensor report base sysprompt sft dpo --labels Base "Base + prompt" SFT SFT+DPO --out reports/all --pdf \\
      --judge-check runs/judge-check.json
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser(
        "report", help="write the policy report (HTML + Markdown + JSON, optionally PDF) from eval results",
        description="Write DIR/report.html (one self-contained page: charts as inline SVG, opens offline), "
                    "DIR/report.md and DIR/report.json from `decensor eval run` results, and DIR/report.pdf with "
                    "--pdf (printed by headless Chromium). Each RESULTS is one system; the first is the base that "
                    "every other system is compared with on the same prompts. A single RESULTS gives a "
                    "single-system report.",
        epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="results.json files or their folders")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for report.html/.md/.json(/.pdf)")
    parser.add_argument("--title", help="report title")
    parser.add_argument("--labels", nargs="+", metavar="LABEL", help="one name per RESULTS, in order")
    parser.add_argument("--judge-check", metavar="FILE", help="judge-check JSON to show the judge's precision/recall")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for differences")
    parser.add_argument("--pdf", action="store_true", help="also print DIR/report.pdf with headless Chromium")
    parser.set_defaults(func=run)
    return {"report"}


def run(args) -> int:
    from decensor.report import write_report

    try:
        paths = write_report(args.results, args.out, title=args.title, judge_check=args.judge_check,
                             n_boot=args.n_boot, labels=args.labels, pdf=args.pdf)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"decensor report: {err}", file=sys.stderr)
        return 2
    for kind in ("html", "md", "json", "pdf"):
        if kind in paths:
            print(paths[kind])
    return 0
