"""Metrics over judged answers, with bootstrap 95% confidence intervals, per topic, per language,
the zh-en gap on paired prompts, and paired comparisons between two runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from decensor.eval.judges.base import Judgement
from decensor.eval.metric_catalog import METRICS, Metric




def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan")
    if len(arr) == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarize(values: Sequence[float], n_boot: int = 1000) -> dict | None:
    if not values:
        return None
    lo, hi = bootstrap_ci(values, n_boot)
    return {"value": float(np.mean(values)), "ci_low": lo, "ci_high": hi, "n": len(values)}


def metric_values(records: Sequence[dict], metric: Metric) -> list[tuple[dict, float]]:
    out = []
    for r in records:
        if r["kind"] != metric.kind:
            continue
        v = metric.value(Judgement.from_dict(r["judgement"]))
        if v is not None:
            out.append((r, v))
    return out


def compute_metrics(records: Sequence[dict], n_boot: int = 1000) -> dict:
    """Overall, per language, per topic, and zh-en gap for every metric that applies."""
    overall, by_lang, by_topic, gap = {}, defaultdict(dict), defaultdict(dict), {}
    for metric in METRICS:
        pairs = metric_values(records, metric)
        if not pairs:
            continue
        overall[metric.key] = summarize([v for _, v in pairs], n_boot)
        groups_lang, groups_topic = defaultdict(list), defaultdict(list)
        for r, v in pairs:
            groups_lang[r["lang"]].append(v)
            groups_topic[r["topic"]].append(v)
        for lang, vs in groups_lang.items():
            by_lang[lang][metric.key] = summarize(vs, n_boot)
        for topic, vs in groups_topic.items():
            by_topic[topic][metric.key] = summarize(vs, n_boot)
        by_pair: dict[str, dict[str, float]] = defaultdict(dict)
        for r, v in pairs:
            by_pair[r["pair_id"]][r["lang"]] = v
        diffs = [d["zh"] - d["en"] for d in by_pair.values() if "zh" in d and "en" in d]
        if diffs:
            gap[metric.key] = summarize(diffs, n_boot)
    return {"overall": overall, "by_lang": dict(by_lang), "by_topic": dict(by_topic), "zh_en_gap": gap}


def compare_records(base: Sequence[dict], tuned: Sequence[dict], n_boot: int = 1000) -> dict:
    """Paired (same prompt id) differences tuned - base per metric, with a bootstrap CI; a difference
    is significant when its 95% CI excludes zero."""
    tuned_by_id = {r["id"]: r for r in tuned}
    out = {}
    for metric in METRICS:
        diffs, b_vals, t_vals = [], [], []
        for r, v in metric_values(base, metric):
            t = tuned_by_id.get(r["id"])
            if t is None:
                continue
            tv = metric.value(Judgement.from_dict(t["judgement"]))
            if tv is None:
                continue
            diffs.append(tv - v)
            b_vals.append(v)
            t_vals.append(tv)
        if not diffs:
            continue
        s = summarize(diffs, n_boot)
        improved = (s["value"] > 0) == metric.higher_is_better and s["value"] != 0
        out[metric.key] = {
            "base": float(np.mean(b_vals)), "tuned": float(np.mean(t_vals)), "delta": s["value"],
            "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"],
            "significant": bool(s["ci_low"] > 0 or s["ci_high"] < 0),
            "better": improved, "higher_is_better": metric.higher_is_better,
        }
    return out
