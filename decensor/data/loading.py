"""Turn the curated (or mined) JSONL files, or a Hub dataset, into `datasets` objects for TRL.

SFT rows keep ``messages`` (TRL's conversational format); DPO rows keep ``prompt`` / ``chosen`` /
``rejected`` as message lists (TRL's conversational preference format). Metadata columns (id, lang,
topic, kind, ..., and ``data_file``, where the row came from) are kept so runs can be sliced, mixed and
audited; the trainers ignore them.

Every local row goes through the one row validator (:mod:`decensor.data.validate`, the same one
``decensor data check`` uses): an empty answer or roles out of order is an error naming file, line and
field, never a row trained on or dropped. An empty file or a missing path is an error too.

Mixing weights (``mix`` in a recipe) oversample or thin out rows by data file or by kind, e.g.
``mix: {harmful-refusal: 3, mixed: 3, data/sft/innocent-2.jsonl: 0.5}``: a row's weight is the product of
the weights of the keys it matches (1 when none); each row appears ``floor(w)`` times plus, for the
fractional part, a seeded random subset of its group. Deterministic for a seed; the counts are recorded in
the run folder (``mixture.json``).
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decensor.data.jsonl import DataError, jsonl_files
from decensor.errors import UserError
from decensor.paths import DATA_DIR

SFT_COLUMNS = ("messages",)
DPO_COLUMNS = ("prompt", "chosen", "rejected")
META_COLUMNS = ("id", "pair_id", "lang", "topic", "kind", "rejected_type", "data_file")


@dataclass
class DataArguments:
    """Which data a recipe trains on. Paths are files or folders (relative to the repository) or a Hub id."""

    dataset: list[str] = field(default_factory=list, metadata={
        "help": "Data files or folders (every *.jsonl inside), globs, or Hub dataset ids."})
    kinds: list[str] | None = field(default=None, metadata={
        "help": "Keep only rows of these kinds, e.g. [sensitive, innocent, harmful-refusal]; unset = all."})
    langs: list[str] | None = field(default=None, metadata={"help": "Keep only these languages; unset = all."})
    max_rows: int | None = field(default=None, metadata={"help": "A deterministic slice, for smoke runs."})
    eval_fraction: float = field(default=0.0, metadata={"help": "Held out for the trainer's eval loss."})
    mix: dict | str | None = field(default=None, metadata={
        "help": "Mixing weights by kind or data file (path or glob), e.g. {harmful-refusal: 3, mixed: 3}; "
                "on the command line as JSON."})

    def __post_init__(self):
        if isinstance(self.mix, str):
            import yaml

            self.mix = yaml.safe_load(self.mix)
        if self.mix is not None:
            if not isinstance(self.mix, dict):
                raise ValueError(f"mix must be a mapping of kind or data file to weight, got {self.mix!r}")
            for key, weight in self.mix.items():
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                    raise ValueError(f"mix: {key}: the weight must be a number >= 0, got {weight!r}")


def _resolve(path: str) -> Path:
    p = Path(path)
    if p.exists():
        return p
    repo_relative = DATA_DIR.parent / path
    return repo_relative if repo_relative.exists() else p


def load_rows(paths: Sequence[str | Path], stage: str) -> list[dict]:
    """Read local JSONL rows of ``stage`` ("sft" or "dpo") through the one row validator; any invalid row,
    empty file or missing path is a :class:`DataError` naming file, line and field. Each row gets ``data_file``."""
    from decensor.data.validate import load_valid_rows

    rows = []
    for path in jsonl_files(map(_resolve, map(str, paths))):
        # Cross-row checks (complete en/zh pairs, DPO against SFT) belong to `decensor data check`: a recipe
        # may train on a slice, such as one mined file.
        rows += [{**row, "data_file": str(path)} for row in load_valid_rows([path], stage, dataset_checks=False)]
    return rows


def _is_hub_id(spec: str) -> bool:
    return not _resolve(spec).exists() and spec.count("/") == 1 and not spec.endswith(".jsonl")


def local_data_files(specs: Sequence[str]) -> list[Path]:
    """The local JSONL files a recipe's ``dataset`` entries name (Hub ids left out)."""
    return jsonl_files(_resolve(s) for s in specs if not _is_hub_id(s))


@dataclass
class LoadedData:
    train: Any                      # datasets.Dataset
    evaluation: Any | None          # datasets.Dataset or None
    mixture: dict[str, Any] | None  # what the mixing weights did (None without ``mix``)


def _mix_key_matches(key: str, row_kind: str | None, row_file: str) -> bool:
    if key == row_kind:
        return True
    file = Path(row_file)
    candidates = {row_file, file.as_posix(), file.name}
    try:
        candidates.add(file.resolve().relative_to(DATA_DIR.parent.resolve()).as_posix())
    except ValueError:
        pass
    key = key.rstrip("/")
    return any(fnmatch.fnmatch(c, key) or c.startswith(key + "/") for c in candidates)


def apply_mix(ds, mix: dict[str, float], seed: int):
    """``ds`` with each row repeated by its weight (see the module docstring); returns (dataset, summary)."""
    from datasets import concatenate_datasets

    kinds = ds["kind"] if "kind" in ds.column_names else [None] * len(ds)
    files = ds["data_file"] if "data_file" in ds.column_names else [""] * len(ds)
    used = Counter()
    groups: dict[float, list[int]] = {}
    for i, (kind, file) in enumerate(zip(kinds, files)):
        weight = 1.0
        for key, w in mix.items():
            if _mix_key_matches(str(key), kind, file):
                weight *= float(w)
                used[key] += 1
        groups.setdefault(weight, []).append(i)
    unused = [k for k in mix if not used[k]]
    if unused:
        raise UserError(f"{', '.join(map(str, unused))} matches no row: not a kind of any row, nor one of the data "
                        f"files {sorted(set(files))}", field="mix", hint="fix the key or remove it")
    parts = []
    for weight, indices in sorted(groups.items()):
        group = ds.select(indices)
        parts += [group] * math.floor(weight)
        extra = round((weight - math.floor(weight)) * len(group))
        if extra:
            parts.append(group.shuffle(seed=seed).select(range(extra)))
    if not parts:
        raise UserError("every weight is 0, nothing is left to train on", field="mix")
    mixed = concatenate_datasets(parts)

    def count(d, column):
        return dict(sorted(Counter(d[column]).items())) if column in d.column_names else {}

    summary = {"weights": dict(mix), "seed": seed, "rows_before": len(ds), "rows_after": len(mixed),
               "by_kind_before": count(ds, "kind"), "by_kind_after": count(mixed, "kind"),
               "by_file_before": count(ds, "data_file"), "by_file_after": count(mixed, "data_file")}
    return mixed, summary


def load_dataset_for(stage: str, args: DataArguments, seed: int = 42) -> LoadedData:
    """Train (and held-out eval, when ``eval_fraction > 0``) datasets for ``stage``, filtered and mixed.

    The held-out split is taken before mixing, so no oversampled copy of an eval row is trained on."""
    from datasets import Dataset, concatenate_datasets, load_dataset

    columns = SFT_COLUMNS if stage == "sft" else DPO_COLUMNS
    if not args.dataset:
        raise UserError(f"no dataset given for stage {stage!r}", field="dataset")
    local = [s for s in args.dataset if not _is_hub_id(s)]
    parts = []
    if local:
        rows = load_rows(local, stage)
        keep = list(columns) + [c for c in META_COLUMNS if any(c in r for r in rows)]
        parts.append(Dataset.from_list([{c: r.get(c) for c in keep} for r in rows]))
    for hub_id in (s for s in args.dataset if _is_hub_id(s)):
        try:
            ds = load_dataset(hub_id, split="train")
        except Exception as err:  # offline, no such repo, no access: the user's path or id is wrong
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise UserError(f"{hub_id!r} is not a local file or folder, and not a Hub dataset that loads ({reason})",
                            field="dataset", hint="check the path (relative to the repository or the current "
                                                  "folder) or the Hub id") from None
        missing = [c for c in columns if c not in ds.column_names]
        if missing:
            raise DataError(hub_id, None, f"Hub dataset lacks columns {missing}")
        parts.append(ds.add_column("data_file", [hub_id] * len(ds)))
    ds = parts[0] if len(parts) == 1 else concatenate_datasets(parts)
    if args.kinds is not None and "kind" in ds.column_names:
        ds = ds.filter(lambda r: r["kind"] in args.kinds)
    if args.langs is not None and "lang" in ds.column_names:
        ds = ds.filter(lambda r: r["lang"] in args.langs)
    ds = ds.shuffle(seed=seed)
    if args.max_rows is not None:
        ds = ds.select(range(min(args.max_rows, len(ds))))
    if len(ds) == 0:
        raise UserError(f"the {stage} dataset is empty after filtering (kinds={args.kinds}, langs={args.langs})",
                        field="kinds" if args.kinds is not None else "langs", hint="check the filters against the data")
    evaluation = None
    if args.eval_fraction > 0:
        split = ds.train_test_split(test_size=args.eval_fraction, seed=seed)
        ds, evaluation = split["train"], split["test"]
    mixture = None
    if args.mix:
        ds, mixture = apply_mix(ds, args.mix, seed)
        ds = ds.shuffle(seed=seed)
    return LoadedData(ds, evaluation, mixture)
