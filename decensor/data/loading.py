"""Turn the curated (or mined) JSONL files, or a Hub dataset, into `datasets` objects for TRL.

SFT rows keep ``messages`` (TRL's conversational format); DPO rows keep ``prompt`` / ``chosen`` /
``rejected`` as message lists (TRL's conversational preference format). Metadata columns (id, lang,
topic, kind, ...) are kept so runs can be sliced and audited; the trainers ignore them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decensor.data.jsonl import DataError, jsonl_files, read_jsonl
from decensor.paths import DATA_DIR

SFT_COLUMNS = ("messages",)
DPO_COLUMNS = ("prompt", "chosen", "rejected")
META_COLUMNS = ("id", "pair_id", "lang", "topic", "kind", "rejected_type")


@dataclass
class DataArguments:
    """Which data a recipe trains on. Paths are files or folders (relative to the repository) or a Hub id."""

    dataset: list[str] = field(default_factory=list)
    kinds: list[str] | None = None   # e.g. [sensitive, innocent, harmful-refusal]; None = all
    langs: list[str] | None = None   # e.g. [en, zh]; None = all
    max_rows: int | None = None      # a deterministic slice, for smoke runs
    eval_fraction: float = 0.0       # held out for the trainer's eval loss
    seed: int = 42


def _resolve(path: str) -> Path:
    p = Path(path)
    if p.exists():
        return p
    repo_relative = DATA_DIR.parent / path
    return repo_relative if repo_relative.exists() else p


def load_rows(paths: Sequence[str | Path], columns: Sequence[str]) -> list[dict]:
    """Read local JSONL rows, requiring ``columns``; errors name file, line and field."""
    rows = []
    for path in jsonl_files(map(_resolve, map(str, paths))):
        for number, row in read_jsonl(path):
            for column in columns:
                if column not in row:
                    raise DataError(path, number, "missing", field=column)
            rows.append(row)
    return rows


def _is_hub_id(spec: str) -> bool:
    return not _resolve(spec).exists() and spec.count("/") == 1 and not spec.endswith(".jsonl")


def load_dataset_for(stage: str, args: DataArguments):
    """A `datasets.Dataset` (or DatasetDict with train/test when eval_fraction > 0) for ``stage``."""
    from datasets import Dataset, concatenate_datasets, load_dataset

    columns = SFT_COLUMNS if stage == "sft" else DPO_COLUMNS
    if not args.dataset:
        raise ValueError(f"no dataset given for stage {stage!r}")
    local = [s for s in args.dataset if not _is_hub_id(s)]
    parts = []
    if local:
        rows = load_rows(local, columns)
        keep = list(columns) + [c for c in META_COLUMNS if any(c in r for r in rows)]
        parts.append(Dataset.from_list([{c: r.get(c) for c in keep} for r in rows]))
    for hub_id in (s for s in args.dataset if _is_hub_id(s)):
        ds = load_dataset(hub_id, split="train")
        missing = [c for c in columns if c not in ds.column_names]
        if missing:
            raise DataError(hub_id, None, f"Hub dataset lacks columns {missing}")
        parts.append(ds)
    ds = parts[0] if len(parts) == 1 else concatenate_datasets(parts)
    if args.kinds is not None and "kind" in ds.column_names:
        ds = ds.filter(lambda r: r["kind"] in args.kinds)
    if args.langs is not None and "lang" in ds.column_names:
        ds = ds.filter(lambda r: r["lang"] in args.langs)
    ds = ds.shuffle(seed=args.seed)
    if args.max_rows is not None:
        ds = ds.select(range(min(args.max_rows, len(ds))))
    if len(ds) == 0:
        raise ValueError(f"the {stage} dataset is empty after filtering (kinds={args.kinds}, langs={args.langs})")
    if args.eval_fraction > 0:
        return ds.train_test_split(test_size=args.eval_fraction, seed=args.seed)
    return ds
