"""Metrics on seen vs unseen topics.

A topic with ``split: unseen`` in data/topics.yaml never appears in training data (``decensor data check``
rejects it there), so the eval's numbers on those topics show whether a change generalises beyond the
topics the model was trained on. The report and the model card both read these numbers from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from decensor.data.topics import SPLITS, load_topics
from decensor.eval.metric_catalog import keys_for
from decensor.eval.metrics import compare_records, compute_metrics


def topic_splits() -> dict[str, str]:
    """topic id -> "seen" | "unseen" (data/topics.yaml)."""
    return {t.id: t.split for t in load_topics().values()}


def split_records(records: Sequence[dict]) -> dict[str, list[dict]]:
    """Answers grouped by their topic's split; a topic missing from the taxonomy raises (it would be
    silently counted as seen otherwise)."""
    splits = topic_splits()
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for r in records:
        if r["topic"] not in splits:
            raise ValueError(f"answer {r.get('id')!r}: topic {r['topic']!r} is not in data/topics.yaml, so its "
                             "split (seen/unseen) is unknown")
        out[splits[r["topic"]]].append(r)
    return out


def metrics_by_split(records: Sequence[dict], n_boot: int = 1000) -> dict[str, dict]:
    """split -> {metric key: {value, ci_low, ci_high, n}} for the catalog's ``unseen`` view metrics, only
    for splits with answers."""
    keys = set(keys_for("unseen"))
    out = {}
    for split, recs in split_records(records).items():
        if recs:
            out[split] = {k: v for k, v in compute_metrics(recs, n_boot)["overall"].items() if k in keys}
    return out


def compare_by_split(base: Sequence[dict], other: Sequence[dict], n_boot: int = 1000) -> dict[str, dict]:
    """split -> paired comparison (``compare_records``) of ``other`` against ``base`` on that split."""
    keys = set(keys_for("unseen"))
    base_split, other_split = split_records(base), split_records(other)
    out = {}
    for split in SPLITS:
        if base_split[split] and other_split[split]:
            comp = compare_records(base_split[split], other_split[split], n_boot)
            out[split] = {k: v for k, v in comp.items() if k in keys}
    return out
