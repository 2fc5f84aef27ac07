"""``decensor eval``: run the suites on a model, compare two runs, check judge quality, run lm-eval."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from decensor.eval import JUDGES

EXAMPLES = """examples:
  decensor eval run --model demo --pairs-per-topic 2
  decensor eval run --model Qwen/Qwen2.5-7B-Instruct --adapter runs/qwen7b-dpo --backend vllm --capability \\
      --capability-tasks mmlu gsm8k cmmlu
  decensor eval run --model Qwen/Qwen2.5-72B-Instruct --backend vllm --tensor-parallel-size 8 --max-model-len 8192
  decensor eval run --backend openai --base-url https://api.example.com/v1 --model chat-model \\
      --api-key-env EXAMPLE_API_KEY --concurrency 4 --suites my-questions.txt
  decensor eval compare runs/eval/base runs/eval/tuned
  decensor eval judge-check
  decensor eval capability --model demo --adapter runs/demo/dpo
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("eval", help="evaluate refusal, official narrative, leakage, facts, safety; compare",
                                   description=__doc__, epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="eval_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="generate (cached, resumable), judge and score a model on the suites")
    add_model_args(run)
    run.add_argument("--suites", nargs="+", help="prompt sets: our JSONL, .txt (one prompt a line), .csv, a folder of "
                     "these, a datasets folder, or a Hugging Face dataset id[:split] (default eval/suites)")
    run.add_argument("--kinds", nargs="+", choices=["sensitive", "innocent", "harmful", "control"])
    run.add_argument("--langs", nargs="+", choices=["en", "zh", "zh-Hant"])
    run.add_argument("--pairs-per-topic", type=int, help="a fixed, seeded slice: this many prompt pairs per topic")
    from decensor.generation.spec import add_backend_arguments

    add_backend_arguments(run)
    run.add_argument("--judge", default="rules", choices=JUDGES)
    run.add_argument("--judge-url", help="OpenAI-compatible base URL for --judge llm (e.g. http://127.0.0.1:8000/v1)")
    run.add_argument("--judge-model", help="model name for --judge llm")
    run.add_argument("--max-new-tokens", type=int, default=256)
    run.add_argument("--batch-size", type=int, default=8)
    run.add_argument("--sample", action="store_true", help="sample (temperature 0.7, top-p 0.95) instead of greedy")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--system-prompt")
    run.add_argument("--think", choices=["on", "off"], help="Qwen3 thinking mode")
    run.add_argument("--capability", action="store_true", help="also run lm-eval capability tasks")
    run.add_argument("--capability-tasks", nargs="+", help="lm-eval tasks (default: our local task offline)")
    run.add_argument("--capability-limit", type=float, help="lm-eval limit per task")
    run.add_argument("--out", help="result folder (default runs/eval/<model>[+<adapter>])")
    run.set_defaults(func=run_run)

    cmp_ = sub.add_parser("compare", help="base vs tuned: deltas with paired bootstrap CIs and significance")
    cmp_.add_argument("base")
    cmp_.add_argument("tuned")
    cmp_.add_argument("--min-drop", type=float, help="capability gate: the smallest drop (in score units) that can "
                      "count as a regression (default and full rule: decensor/eval/capability.py)")
    cmp_.add_argument("--out", help="write the comparison JSON here")
    cmp_.set_defaults(func=run_compare)

    check = sub.add_parser("judge-check", help="precision/recall of a judge on the hand-labelled calibration set")
    check.add_argument("--judge", default="rules", choices=JUDGES,
                       help="rules (phrase rules, the default), rules+model (plus the learned framing classifier), llm")
    check.add_argument("--judge-url")
    check.add_argument("--judge-model")
    check.add_argument("--calibration", help="calibration JSONL (default eval/calibration/answers.jsonl)")
    check.add_argument("--dpo", nargs="+", help="DPO pairs the judge was tuned on, scored in-sample (default data/dpo and eval/judge-tuning)")
    check.add_argument("--judge-test", nargs="+",
                       help="answer pairs (DPO format) held out from the judge, scored as held-out (default eval/judge-test)")
    check.add_argument("--no-dpo", action="store_true",
                       help="only the calibration set, no answer pairs (e.g. to spare an LLM judge's API)")
    check.add_argument("--out", help="write the result JSON here (reports read it)")
    check.set_defaults(func=run_judge_check)

    cap = sub.add_parser("capability", help="lm-eval tasks via its Python API, for a model and adapter")
    add_model_args(cap)
    cap.add_argument("--tasks", nargs="+", help="lm-eval tasks (default: our local offline task; on a cluster: "
                                                "mmlu gsm8k arc_challenge hellaswag ifeval cmmlu ceval-valid)")
    cap.add_argument("--limit", type=float)
    cap.add_argument("--batch-size", type=int, default=8)
    cap.add_argument("--out", help="write the result JSON here")
    cap.set_defaults(func=run_capability_cmd)
    return {"eval"}


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="Hub id, local folder, or 'demo' (the offline Qwen model)")
    p.add_argument("--adapter", help="LoRA adapter folder")
    p.add_argument("--revision", default="main")
    p.add_argument("--gguf-file")
    p.add_argument("--trust-remote-code", action="store_true", help="only with --revision pinned to a commit")
    p.add_argument("--dtype", default=None, help="float32 (CPU default), bfloat16 (GPU default), auto")


def default_dtype(args) -> str:
    if args.dtype:
        return args.dtype
    import torch

    return "bfloat16" if torch.cuda.is_available() else "float32"


def run_run(args) -> int:
    from decensor.eval.runner import EvalArguments, format_summary, run_eval
    from decensor.generation import GenerationSettings, backend_options

    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, do_sample=args.sample,
                                  seed=args.seed, system_prompt=args.system_prompt,
                                  enable_thinking=None if args.think is None else args.think == "on")
    eargs = EvalArguments(model=args.model, adapter=args.adapter, revision=args.revision, gguf_file=args.gguf_file,
                          trust_remote_code=args.trust_remote_code, dtype=default_dtype(args), suites=args.suites,
                          kinds=args.kinds, langs=args.langs, pairs_per_topic=args.pairs_per_topic,
                          backend=args.backend, backend_options=backend_options(args), judge=args.judge,
                          judge_url=args.judge_url,
                          judge_model=args.judge_model, generation=settings, out=args.out,
                          capability=args.capability, capability_tasks=args.capability_tasks,
                          capability_limit=args.capability_limit)
    results = run_eval(eargs)
    print(format_summary(results))
    return 0


def run_compare(args) -> int:
    from decensor.eval.capability import DEFAULT_MIN_DROP, capability_verdict
    from decensor.eval.metric_catalog import keys_for
    from decensor.eval.metrics import SPLIT_NAMES, compare_by_split, compare_records
    from decensor.eval.runner import load_records, load_results

    base, tuned = load_results(args.base), load_results(args.tuned)
    if base["suite"]["hash"] != tuned["suite"]["hash"]:
        print("warning: the two runs used different suite files; only shared prompt ids are compared", file=sys.stderr)
    base_records, tuned_records = load_records(base), load_records(tuned)
    comparison = {"base": args.base, "tuned": args.tuned,
                  "metrics": compare_records(base_records, tuned_records),
                  "by_split": compare_by_split(base_records, tuned_records)}
    gate = capability_verdict(base.get("capability"), tuned.get("capability"),
                              DEFAULT_MIN_DROP if args.min_drop is None else args.min_drop)
    if gate:
        comparison["capability"] = gate
    print(f"{'metric':30s} {'base':>6s} {'tuned':>6s} {'delta':>7s}  95% CI            sig  better")
    for name, m in comparison["metrics"].items():
        print(f"{name:30s} {m['base']:6.2f} {m['tuned']:6.2f} {m['delta']:+7.2f}  [{m['ci_low']:+.2f}, {m['ci_high']:+.2f}]"
              f"  {'yes' if m['significant'] else 'no ':3s}  {'yes' if m['better'] else 'no'}")
    for split, metrics in comparison["by_split"].items():
        print(f"[{SPLIT_NAMES.get(split, split)}]")
        for name in [k for k in keys_for("unseen") if k in metrics]:
            m = metrics[name]
            print(f"  {name:28s} {m['base']:6.2f} {m['tuned']:6.2f} {m['delta']:+7.2f}  [{m['ci_low']:+.2f}, "
                  f"{m['ci_high']:+.2f}]  {'yes' if m['significant'] else 'no ':3s}  n={m['n']}")
    if "capability" in comparison:
        for task, row in comparison["capability"]["tasks"].items():
            flag = "REGRESSION" if row["regressed"] else "ok"
            print(f"capability {task}: {row['metric']} {row['base']:.3f} -> {row['tuned']:.3f} ({row['delta']:+.3f}) {flag}")
        print(f"capability gate: {comparison['capability']['rule']}")
    if args.out:
        Path(args.out).write_text(json.dumps(comparison, indent=2))
    return 1 if comparison.get("capability", {}).get("passed") is False else 0


def run_judge_check(args) -> int:
    from decensor.eval.calibration import CALIBRATION_FILE, dpo_check, format_check, judge_check, load_calibration, load_dpo
    from decensor.eval.judges import make_judge

    judge = make_judge(args.judge, url=args.judge_url, model=args.judge_model)
    result = judge_check(judge, load_calibration(args.calibration or CALIBRATION_FILE))
    result["judge"] = {"name": judge.name, "version": judge.version}
    if not args.no_dpo:
        rows = load_dpo(args.dpo) + load_dpo(args.judge_test, split="held-out")
        result["dpo"] = dpo_check(judge, rows)
    print(format_check(judge.name, result, result.get("dpo")))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


def run_capability_cmd(args) -> int:
    from decensor.eval.capability import run_capability

    result = run_capability(args.model, args.adapter, args.tasks, limit=args.limit, batch_size=args.batch_size,
                            dtype=default_dtype(args), revision=args.revision,
                            trust_remote_code=args.trust_remote_code)
    for task, r in result["tasks"].items():
        stderr = f" ± {r['stderr']:.3f}" if r["stderr"] is not None else ""
        print(f"{task}: {r['metric']} = {r['value']:.3f}{stderr}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0
