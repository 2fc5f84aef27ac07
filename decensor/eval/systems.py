"""Systems: one eval result folder each (a model, or a model with an adapter or a system prompt), compared
with a base system prompt by prompt. The report and the model card both read systems through here."""

from __future__ import annotations

import logging
from pathlib import Path

from decensor.eval.metrics import compare_by_split, compare_records, compute_metrics
from decensor.eval.runner import load_records, load_results

logger = logging.getLogger(__name__)


def system_label(results: dict, index: int, taken: set[str], label: str | None = None) -> str:
    """A short, unique name for a system: the given label, the results' own ``label``, "Base" for the
    first, else the adapter folder, "Base + system prompt" or the model folder."""
    label = label or results.get("label")
    if not label:
        system_prompt = (results.get("generation") or {}).get("system_prompt")
        if index == 0:
            label = "Base"
        elif results.get("adapter") and results["adapter"].get("path"):
            label = Path(results["adapter"]["path"].rstrip("/")).name
        elif system_prompt:
            label = "Base + system prompt"
        else:
            label = Path(str(results["model"].get("name_or_path", "")).rstrip("/")).name
        label = label or f"System {index + 1}"
        if index > 0 and label.lower() == "base":
            label = f"System {index + 1}"
    base, n = label, 2
    while label in taken:
        label, n = f"{base} ({n})", n + 1
    taken.add(label)
    return label


def load_system(path: str | Path) -> tuple[dict, list[dict]]:
    """(results, answer records); records are [] when the answers file is missing (the metrics still show,
    paired comparisons cannot), with a warning."""
    res = load_results(path)
    try:
        return res, load_records(res)
    except FileNotFoundError:
        logger.warning("%s: answers file missing; no paired comparison or examples for it", path)
        return res, []


def with_verdicts(comparison: dict) -> dict:
    """Each paired difference gets its verdict in words: better / worse (significant) or no clear change."""
    for c in comparison.values():
        c["verdict"] = ("better" if c["better"] else "worse") if c["significant"] else "no clear change"
    return comparison


def compare_systems(base: list[dict], other: list[dict], n_boot: int = 1000) -> dict:
    """Paired differences of ``other`` against ``base`` (same prompt ids): overall, per language and per
    topic split (seen / unseen), each with its verdict."""
    by_lang = {lang: with_verdicts(compare_records([r for r in base if r["lang"] == lang],
                                                   [r for r in other if r["lang"] == lang], n_boot))
               for lang in sorted({r["lang"] for r in base})}
    by_split = {s: with_verdicts(c) for s, c in compare_by_split(base, other, n_boot).items()}
    return {"metrics": with_verdicts(compare_records(base, other, n_boot)), "by_lang": by_lang, "by_split": by_split}


def split_metrics(metrics: dict, records: list[dict], n_boot: int = 1000) -> dict[str, dict]:
    """split ("seen" / "unseen" / "unlisted") -> {metric: {value, ci_low, ci_high, n}}: the results'
    ``metrics["by_split"]``, or computed from the answers for results written before eval recorded it."""
    if "by_split" in metrics:
        return metrics["by_split"]
    return compute_metrics(records, n_boot)["by_split"] if records else {}
