"""``decensor push`` and ``decensor push-data``: publish a model or the dataset on the Hugging Face Hub.

The token comes from HF_TOKEN or the huggingface_hub login; it is never printed, logged or written.
"""

from __future__ import annotations

import argparse
import sys

PUSH_HELP = """examples:
  decensor push runs/qwen7b-dpo --repo-id my-org/Qwen2.5-7B-Instruct-decensor-lora --dry-run /tmp/preview
  decensor push runs/qwen7b-dpo --repo-id my-org/Qwen2.5-7B-Instruct-decensor --merged --private
  decensor push runs/qwen7b-dpo --repo-id my-org/x --results runs/eval/base runs/eval/tuned
"""
DATA_HELP = """examples:
  decensor push-data --repo-id my-org/decensor-data --dry-run /tmp/data-preview
  decensor push-data --repo-id my-org/decensor-data --private
"""


def register(subparsers) -> set[str]:
    push = subparsers.add_parser(
        "push", help="upload an adapter or merged model with a model card to the Hugging Face Hub",
        description="Upload a finished run's LoRA adapter (or, with --merged, the merged full weights) with a "
                    "generated model card (base model, inherited license, recipe, eval results in model-index). "
                    "Token: HF_TOKEN or `hf auth login`.",
        epilog=PUSH_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    push.add_argument("run_dir", metavar="RUN_DIR", help="finished training run folder (adapter + tokenizer)")
    push.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    push.add_argument("--merged", action="store_true", help="merge the adapter into the base model and upload that")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--dry-run", metavar="DIR", help="write the folder that would be uploaded to DIR; upload nothing")
    push.add_argument("--results", nargs="+", metavar="RESULTS",
                      help="eval results: base.json tuned.json (or only tuned.json); default: found in RUN_DIR")
    push.add_argument("--base-model", help="override the base model id (default: adapter_config.json)")
    push.add_argument("--dataset", action="append", metavar="ORG/NAME", help="training dataset on the Hub (repeatable)")
    push.set_defaults(func=run_push)

    data = subparsers.add_parser(
        "push-data", help="upload the curated dataset with a dataset card to the Hugging Face Hub",
        description="Upload data/sft, data/dpo and data/topics.yaml with a dataset card (CC BY 4.0, en + zh, "
                    "sft and dpo configs). Token: HF_TOKEN or `hf auth login`.",
        epilog=DATA_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    data.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    data.add_argument("--data-dir", help="data folder (default: the repository's data/)")
    data.add_argument("--private", action="store_true", help="create the repository as private")
    data.add_argument("--dry-run", metavar="DIR", help="write the folder that would be uploaded to DIR; upload nothing")
    data.set_defaults(func=run_push_data)
    return {"push", "push-data"}


def _check_repo_id(repo_id: str) -> str | None:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        return f"--repo-id must be ORG/NAME, got {repo_id!r}"
    return None


def run_push(args) -> int:
    from decensor.hub.push import PushError, push_model

    if err := _check_repo_id(args.repo_id):
        print(f"decensor push: {err}", file=sys.stderr)
        return 2
    try:
        where = push_model(args.run_dir, args.repo_id, merged=args.merged, private=args.private,
                           dry_run=args.dry_run, results=args.results, base_model=args.base_model,
                           datasets=args.dataset)
    except (PushError, FileNotFoundError, ValueError) as err:
        from decensor.hub.push import scrub_text

        print(f"decensor push: {scrub_text(str(err))}", file=sys.stderr)
        return 2
    print(f"dry run: wrote {where} (nothing uploaded)" if args.dry_run else f"uploaded: {where}")
    return 0


def run_push_data(args) -> int:
    from decensor.hub.push import PushError, push_dataset
    from decensor.paths import DATA_DIR

    if err := _check_repo_id(args.repo_id):
        print(f"decensor push-data: {err}", file=sys.stderr)
        return 2
    try:
        where = push_dataset(args.data_dir or DATA_DIR, args.repo_id, private=args.private, dry_run=args.dry_run)
    except (PushError, FileNotFoundError, ValueError) as err:
        from decensor.hub.push import scrub_text

        print(f"decensor push-data: {scrub_text(str(err))}", file=sys.stderr)
        return 2
    print(f"dry run: wrote {where} (nothing uploaded)" if args.dry_run else f"uploaded: {where}")
    return 0
