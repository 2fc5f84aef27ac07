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

    from decensor.data.decontam import THRESHOLDS
    from decensor.data.dedup import NEAR_DUP_THRESHOLD, REVIEW_THRESHOLD

    limits = ", ".join(f"{signal} ({lang}) >= {v}" for (signal, lang), v in THRESHOLDS.items())
    check = sub.add_parser("check", help="validate SFT/DPO files: schema, pairs, duplicates, eval leaks by meaning, "
                                         "unseen topics; balance tables",
                           description="Validate SFT and DPO files (default data/sft and data/dpo) with the one row "
                                       "validator (data/SCHEMA.md): schema, sources, reviewer, script, pairs, DPO rows "
                                       "against SFT rows, duplicate prompts; the evaluation suites (eval/suites); "
                                       "evaluation prompts that paraphrase a training prompt (by content words, "
                                       f"character bigrams, embeddings and across languages: {limits}); training "
                                       "rows on unseen (evaluation-only) topics. Errors print as `path:line: field: "
                                       "message` and make the command exit 1.")
    check.add_argument("paths", nargs="*", help="files or folders (default: data/sft data/dpo)")
    check.add_argument("--suites", nargs="+", help="evaluation files/folders to check leaks against "
                                                   "(default: eval/suites); a missing path is an error")
    check.add_argument("--threshold", type=float, default=NEAR_DUP_THRESHOLD,
                       help="near-duplicate Jaccard threshold among training prompts")
    check.add_argument("--review", type=float, default=REVIEW_THRESHOLD,
                       help="Jaccard from which a pair of training prompts is listed as a warning to review")
    check.add_argument("--no-embedding", action="store_true",
                       help="skip the embedding signal of the paraphrase check (said in the output)")
    check.add_argument("--paraphrases", metavar="FILE",
                       help="write every flagged evaluation prompt with its training prompt and scores to FILE")
    check.add_argument("--calibrate", action="store_true",
                       help="print the score distributions (known paraphrases vs unrelated pairs) behind the "
                            "paraphrase thresholds")
    check.add_argument("--judge", action="store_true",
                       help="also run the rule judge on the curated answers and warn where it flags them")
    check.add_argument("--no-warnings", action="store_true", help="print only errors and their count of warnings")
    check.add_argument("--no-table", action="store_true", help="skip the balance tables")
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
    mine.add_argument("--kinds", nargs="+", choices=["sensitive", "innocent", "harmful-refusal", "mixed"])
    mine.add_argument("--langs", nargs="+", choices=["en", "zh", "zh-Hant"])
    mine.add_argument("--max-new-tokens", type=int, default=256)
    mine.add_argument("--batch-size", type=int, default=8)
    mine.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    mine.add_argument("--think", choices=["on", "off"], help="Qwen3 thinking mode")
    from decensor.generation.spec import add_backend_arguments

    add_backend_arguments(mine)  # the same backends as `eval run`
    mine.add_argument("--threads", type=int, help="torch CPU threads (on a busy shared CPU, 1 can be several times "
                                                  "faster than the default)")
    mine.add_argument("--no-progress", action="store_true")
    mine.set_defaults(func=run_mine)

    synth = sub.add_parser("synth", help="draft rows with a teacher model -> automatic filters -> review queue; "
                                         "merge only reviewed rows",
                           description=(__import__("decensor.data.synth", fromlist=["_"]).__doc__ or ""),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    synth_sub = synth.add_subparsers(dest="synth_command", metavar="STEP", required=True)
    srun = synth_sub.add_parser("run", help="draft candidates into a run folder's review queue (resumable)")
    srun.add_argument("--model", required=True, help="the teacher: served model name (openai backend) or a model")
    srun.add_argument("--out", help="run folder (default runs/synth-<model>); give the same folder to resume")
    srun.add_argument("--topics", nargs="+", help="topic ids (default: every seen topic of --kinds)")
    srun.add_argument("--kinds", nargs="+", default=["sensitive", "innocent", "harmful"],
                      choices=["sensitive", "innocent", "harmful"])
    srun.add_argument("--questions-per-topic", type=int, default=3)
    srun.add_argument("--langs", nargs="+", default=["en", "zh", "zh-Hant"], choices=["en", "zh", "zh-Hant"])
    srun.add_argument("--max-new-tokens", type=int, default=700)
    srun.add_argument("--temperature", type=float, default=0.7, help="0 for greedy")
    srun.add_argument("--seed", type=int, default=0)
    srun.add_argument("--suites", nargs="+", help="evaluation prompts to keep candidates away from (default eval/suites)")
    srun.add_argument("--no-progress", action="store_true")
    from decensor.generation.spec import add_backend_arguments as _backend_args

    _backend_args(srun)
    srun.set_defaults(func=run_synth_cmd)
    smerge = synth_sub.add_parser("merge", help="append ONLY reviewed, accepted rows of a run's queue to data/sft")
    smerge.add_argument("run", help="the synth run folder")
    smerge.add_argument("--data-dir", help="data folder (default: the repository's data/)")
    smerge.set_defaults(func=run_synth_merge)
    return {"data"}


def _print_issues(report, show_warnings: bool) -> None:
    for issue in report.errors:
        print(issue)
    if show_warnings:
        for issue in report.warnings:
            print(f"warning: {issue}")


def run_check(args) -> int:
    from rich.console import Console

    from decensor.data.check import check_data, write_paraphrase_list
    from decensor.data.decontam import calibrate, load_pairs
    from decensor.data.stats import print_balance, print_rejected, print_unseen

    report = check_data(args.paths or None, suites=args.suites, threshold=args.threshold, review=args.review,
                        judge=args.judge, embedding=not args.no_embedding)
    _print_issues(report, not args.no_warnings)
    console = Console()
    if not args.no_table:
        print_balance(report.sft, console=console)
        print_rejected(report.dpo, console=console)
    if report.unseen:
        print_unseen(report.unseen, console=console)
        trained = [r[1] for r in report.unseen if r[4] != "0"]
        print(f"unseen topics: {len(report.unseen)} ({sum(1 for r in report.unseen if r[0] == 'sensitive')} sensitive, "
              f"{sum(1 for r in report.unseen if r[0] == 'innocent')} innocent), "
              f"{sum(int(r[3]) for r in report.unseen)} evaluation prompts; training rows on them: "
              + (", ".join(trained) if trained else "none"))
    d = report.decontam
    if d is not None:
        if d.embedding_note:
            print(f"WARNING: paraphrase check WITHOUT the embedding signal: {d.embedding_note}", file=sys.stderr)
        limits = ", ".join(f"{signal} ({lang}) >= {v}" for (signal, lang), v in sorted(d.thresholds.items())
                           if not (signal == "embedding" and d.embedding_note))
        by_lang = d.flagged_by_lang()
        print(f"paraphrases: {len(d.matches)} of {len(d.evals)} evaluation prompts paraphrase a training prompt ("
              + ", ".join(f"{lang} {by_lang.get(lang, 0)}" for lang in ("en", "zh", "zh-Hant")) + f"); thresholds: "
              f"{limits} (chosen from data: data/SCHEMA.md, `--calibrate`)")
        if args.calibrate:
            for line in calibrate(d, load_pairs(), means=d.means or None):
                print(line)
        if args.paraphrases:
            n = write_paraphrase_list(report, args.paraphrases)
            print(f"wrote {n} flagged evaluation prompts to {args.paraphrases}")
    summary = (f"{len(report.files)} files, {len(report.sft)} SFT rows, {len(report.dpo)} DPO rows, checked against "
               f"{report.n_eval_prompts} evaluation prompts: {len(report.errors)} errors, "
               f"{len(report.warnings)} warnings")
    print(summary, file=sys.stderr if report.errors else sys.stdout)
    return 1 if report.errors else 0


def run_stats(args) -> int:
    from decensor.data.stats import markdown_balance, markdown_rejected, print_balance, print_rejected
    from decensor.data.validate import default_paths, read_rows

    rows, issues, _ = read_rows(args.paths or default_paths())
    for issue in issues:
        print(issue, file=sys.stderr)
    sft, dpo = [r for r in rows if r.stage == "sft"], [r for r in rows if r.stage == "dpo"]
    if args.markdown:
        print(markdown_balance(sft))
        if dpo:
            print()
            print(markdown_rejected(dpo))
    else:
        print_balance(sft)
        print_rejected(dpo)
    return 1 if issues else 0


def run_mine(args) -> int:
    from decensor.data.mine import MineArguments, format_summary, mine
    from decensor.generation import backend_options

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = mine(MineArguments(
        model=args.model, adapter=args.adapter, revision=args.revision, trust_remote_code=args.trust_remote_code,
        dtype=args.dtype, sft=args.sft, out=args.out, tag=args.tag, limit=args.limit, kinds=args.kinds,
        langs=args.langs, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, do_sample=args.sample,
        enable_thinking=None if args.think is None else args.think == "on", backend=args.backend,
        backend_options=backend_options(args), progress=not args.no_progress))
    print(format_summary(result))
    return 0


def run_synth_cmd(args) -> int:
    from decensor.data.synth import SynthConfig, format_result, run_synth
    from decensor.generation import backend_options

    if args.questions_per_topic < 1:
        raise SystemExit("--questions-per-topic must be at least 1")
    config = SynthConfig(teacher=args.model, backend=args.backend, backend_options=backend_options(args),
                         topics=args.topics, kinds=args.kinds, questions_per_topic=args.questions_per_topic,
                         langs=["en", *[lang for lang in args.langs if lang != "en"]],
                         max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed)
    print(format_result(run_synth(config, args.out, suites=args.suites, progress=not args.no_progress)))
    return 0


def run_synth_merge(args) -> int:
    from decensor.data.synth import merge_reviewed
    from decensor.paths import DATA_DIR

    result = merge_reviewed(args.run, args.data_dir or DATA_DIR)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items())) or "none"
    print(f"merged {result.merged} reviewed rows into {result.out if result.merged else '(nothing written)'}; "
          f"not merged: {skipped}")
    return 0
