"""The report model: everything a report shows, collected into one JSON-safe dict (``report.json``).

The HTML page, its Markdown twin and the PDF are all rendered from this one dict by templates
(``decensor.report.render``); nothing there computes a number. Inputs: N eval result folders (or their
``results.json``), one per system; the first is the reference ("base") system that every other one is
compared with, prompt by prompt. Optionally a ``decensor eval judge-check`` JSON file.

Which metrics appear where comes from the metric catalog (``decensor.eval.metric_catalog``): every metric
present in the results is shown in the systems table; views decide the cards, heatmaps, language and
seen/unseen tables; the capability verdict comes from ``decensor.eval.capability``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from decensor import __version__
from decensor.data.topics import SPLITS, load_topics
from decensor.eval.capability import GATE_RULE, capability_verdict
from decensor.eval.metric_catalog import METRICS, METRICS_BY_KEY, keys_for
from decensor.eval.metrics import SPLIT_NAMES
from decensor.eval.systems import compare_systems, load_system, split_metrics, system_label
from decensor.report.examples import select_examples
from decensor.report.names import KIND_ORDER, KIND_TITLES, LANG_NAMES
from decensor.report.summary import build_findings, build_summary

REPORT_FORMAT = "decensor-report/2"


def _clean(obj):
    """JSON-safe copy: NaN/inf -> None."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


# -------------------------------------------------------------------------------------- capability


def capability_table(models: list[dict]) -> dict | None:
    """Each system's lm-eval scores per task, with the capability gate's verdict against the base."""
    caps = [m["capability"] for m in models]
    if not any(caps):
        return None
    tasks: list[str] = []
    for c in caps:
        for t in ((c or {}).get("tasks") or {}):
            if t not in tasks:
                tasks.append(t)
    verdicts = [None] + [capability_verdict(caps[0], c) for c in caps[1:]]
    rows = []
    for task in tasks:
        row = {"task": task, "metric": next(((c or {}).get("tasks", {}).get(task, {}).get("metric")
                                             for c in caps if (c or {}).get("tasks", {}).get(task)), None),
               "values": [], "regression": False}
        for c, verdict in zip(caps, verdicts):
            t = ((c or {}).get("tasks") or {}).get(task)
            cell = {"value": t.get("value"), "stderr": t.get("stderr")} if t else None
            gate = ((verdict or {}).get("tasks") or {}).get(task)
            if cell and gate:
                cell.update(delta=gate["delta"], threshold=gate["threshold"], regression=gate["regressed"])
                row["regression"] |= gate["regressed"]
            row["values"].append(cell)
        rows.append(row)
    return {"rows": rows, "verdicts": verdicts, "rule": GATE_RULE}


# ------------------------------------------------------------------------------------- judge check


def judge_check_table(data) -> dict:
    """Rows of precision/recall found anywhere in a judge-check JSON (format-tolerant)."""
    rows, scalars = [], {}

    def walk(obj, path):
        if isinstance(obj, dict):
            if "precision" in obj or "recall" in obj:
                rows.append({"label": " / ".join(path) or "overall",
                             **{k: obj.get(k) for k in ("precision", "recall", "f1", "accuracy")},
                             "n": obj.get("n", obj.get("support", obj.get("count")))})
                return
            for k, v in obj.items():
                if isinstance(v, (dict, list)):
                    walk(v, path + [str(k)])
                elif not path and isinstance(v, (int, float, str, bool)) and k not in ("format",):
                    scalars[str(k)] = v
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                name = v.get("label") or v.get("name") or v.get("field") if isinstance(v, dict) else None
                walk(v, path + [str(name or i)])

    walk(data, [])
    return {"rows": rows, "scalars": scalars}


# ------------------------------------------------------------------------------------ tables


def _metric_row(key: str) -> dict:
    m = METRICS_BY_KEY.get(key)
    if m is None:  # a metric newer than this catalog: shown under its key
        return {"key": key, "title": key, "short": key, "description": "", "higher_is_better": None, "kind": None}
    return {"key": key, "title": m.title, "short": m.short, "description": m.description,
            "higher_is_better": m.higher_is_better, "kind": m.kind}


def systems_table(models: list[dict], comparisons: list[dict], keys: list[str]) -> list[dict]:
    """One row per metric: every system's value with its 95% CI, and for each system after the first the
    paired difference against the first (delta, CI, significant, better)."""
    comp_by_label = {c["model"]: c["metrics"] for c in comparisons}
    rows = []
    for key in keys:
        cells = []
        for i, m in enumerate(models):
            v = m["metrics"]["overall"].get(key)
            vs = comp_by_label.get(m["label"], {}).get(key) if i else None
            cells.append({"value": v, "vs_base": vs})
        rows.append({**_metric_row(key), "cells": cells})
    return rows


def language_table(models: list[dict], comparisons: list[dict]) -> dict:
    langs = sorted({lang for m in models for lang in m["metrics"].get("by_lang", {})},
                   key=lambda x: (x != "zh", x != "en", x))
    comp_by_label = {c["model"]: c.get("by_lang", {}) for c in comparisons}
    rows = []
    for key in keys_for("per_language"):
        if not any(key in (m["metrics"].get("by_lang", {}).get(lang) or {}) for m in models for lang in langs):
            continue
        cells = []
        for i, m in enumerate(models):
            by_lang = m["metrics"].get("by_lang", {})
            cells.append({"langs": [{"lang": lang, "value": (by_lang.get(lang) or {}).get(key),
                                     "vs_base": (comp_by_label.get(m["label"], {}).get(lang) or {}).get(key)
                                     if i else None} for lang in langs],
                          "gap": m["metrics"].get("zh_en_gap", {}).get(key)})
        rows.append({**_metric_row(key), "cells": cells})
    return {"langs": [{"code": lang, "name": LANG_NAMES.get(lang, lang)} for lang in langs], "rows": rows}


def split_table(models: list[dict], record_sets: list[list[dict]], comparisons: list[dict], n_boot: int) -> dict:
    """Seen vs unseen topics for every system (values with CIs) and, on each split, the paired difference
    against the base, for the catalog's ``unseen`` view metrics."""
    topics = load_topics()
    by_split = [split_metrics(m["metrics"], recs, n_boot) for m, recs in zip(models, record_sets)]
    present_topics = {t for m in models for t in m["metrics"].get("by_topic", {})}
    n_topics = {s: sum(1 for t in present_topics if t in topics and topics[t].split == s) for s in SPLITS}
    if not any("unseen" in ms for ms in by_split):
        return {"available": False, "rows": [], "n_topics": n_topics,
                "note": "None of the evaluated prompts is on an unseen topic (split: unseen in data/topics.yaml)."}
    comp_by_label = {c["model"]: c.get("by_split", {}) for c in comparisons}
    rows = []
    for key in keys_for("unseen"):
        if not any(key in ms.get(s, {}) for ms in by_split for s in SPLITS):
            continue
        cells = []
        for i, (m, ms) in enumerate(zip(models, by_split)):
            cells.append({"splits": [{"split": s, "value": ms.get(s, {}).get(key),
                                      "vs_base": (comp_by_label.get(m["label"], {}).get(s) or {}).get(key)
                                      if i else None} for s in SPLITS]})
        rows.append({**_metric_row(key), "cells": cells})
    unseen = sorted(t for t in present_topics if t in topics and topics[t].split == "unseen")
    return {"available": True, "note": None, "n_topics": n_topics, "unseen_topics": unseen,
            "splits": [{"split": s, "title": SPLIT_NAMES[s]} for s in SPLITS], "rows": rows}


def answer_class_table(models: list[dict]) -> list[dict]:
    """The catalog's ``answer_class`` metrics (shares that add up to one per kind) per system and kind."""
    out = []
    for kind in KIND_ORDER:
        metrics = [m for m in METRICS if "answer_class" in m.views and m.kind == kind]
        present = [m for m in metrics if any(m.key in x["metrics"]["overall"] for x in models)]
        if present:
            out.append({"kind": kind, "title": KIND_TITLES[kind], "classes": [_metric_row(m.key) for m in present],
                        "systems": [{"label": x["label"], "values": [x["metrics"]["overall"].get(m.key)
                                                                     for m in present]} for x in models]})
    return out


def heatmaps(models: list[dict], topics: dict[str, dict], present: set[str]) -> list[dict]:
    out = []
    for kind in KIND_ORDER:
        ids = [t for t, info in topics.items() if info["kind"] == kind]
        keys = [k for k in keys_for("heatmap", kind) if k in present]
        if not ids or not keys:
            continue
        values = [[((x["metrics"]["by_topic"].get(t) or {}).get(k) or {}).get("value") for k in keys for x in models]
                  for t in ids]
        n_per = max(((x["metrics"]["by_topic"].get(t) or {}).get(keys[0]) or {}).get("n", 0)
                    for t in ids for x in models)
        out.append({"kind": kind, "title": KIND_TITLES[kind], "metrics": [_metric_row(k) for k in keys],
                    "topics": [{"id": t, "name": topics[t]["en"] + (" (unseen)" if topics[t]["split"] == "unseen"
                                                                     else ""), "split": topics[t]["split"]}
                               for t in ids],
                    "values": values, "n_per_topic": n_per})
    return out


def methodology(models: list[dict]) -> list[dict]:
    out = []
    for m in models:
        gen, suite = m.get("generation") or {}, m.get("suite") or {}
        sel = suite.get("selection") or {}
        judge = m.get("judge") or {}
        rows = [
            ["Model", m["model"].get("name_or_path")], ["Model revision", m["model"].get("revision")],
            ["Model hash", m["model"].get("sha")],
            ["Adapter", (m.get("adapter") or {}).get("path") or "none"],
            ["Adapter SHA-256", (m.get("adapter") or {}).get("sha256") or "n/a"],
            ["Suite hash (SHA-256)", suite.get("hash")], ["Prompts answered", m.get("n_answers")],
            ["Selection", ", ".join(f"{k}={v}" for k, v in sel.items() if v is not None) or "all prompts"],
            ["Judge", f"{judge.get('name')} v{judge.get('version')}"], ["Backend", m.get("backend")],
            ["Generation", ", ".join(f"{k}={v}" for k, v in gen.items() if v is not None)],
            ["Evaluated", m.get("created")], ["decensor version", m.get("decensor_version")],
            ["Results file", m.get("results_path")],
        ]
        rows += [[f"Suite file {k}", v] for k, v in (suite.get("files") or {}).items()]
        out.append({"label": m["label"], "rows": [[k, "" if v is None else str(v)] for k, v in rows]})
    return out


# ------------------------------------------------------------------------------------------- build


LIMITATIONS = [
    "Labels come from an automatic judge. The rule judge looks for phrases, not meaning: it can miss "
    "subtle refusals or propaganda and can flag attributed quotations; its measured precision and recall "
    "(judge-check) bound how far the numbers can be trusted.",
    "The evaluation prompts are a fixed, curated sample of topics; results do not cover every censored "
    "subject, phrasing or conversation length. Topics marked unseen never appear in the training data; the "
    "others do, so a tuned model may do better on them than on new questions.",
    "Fact coverage only checks that reference facts are mentioned, not that the whole answer is accurate; "
    "an answer can cover the facts and still contain errors.",
    "Confidence intervals reflect sampling of prompts, not variation across generation settings, "
    "system prompts or sampling seeds. Many comparisons are shown; at 95% some differences called "
    "significant can be chance.",
    "Example answers are selected automatically because their labels changed the most; they illustrate "
    "the change but are not a random sample.",
    "Chinese answers are shown in the original. A translation is shown only when one exists in the data; "
    "none is produced by this report.",
]


def _model_entry(res: dict, label: str, index: int, n_answers: int) -> dict:
    return {
        "label": label, "role": "base" if index == 0 else "system",
        "results_path": str(Path(res["_dir"]) / "results.json"),
        "model": res.get("model"),
        "adapter": {k: v for k, v in res["adapter"].items() if k != "run"} if res.get("adapter") else None,
        "suite": res.get("suite"), "generation": res.get("generation"), "backend": res.get("backend"),
        "judge": res.get("judge"), "created": res.get("created"), "decensor_version": res.get("decensor_version"),
        "n_answers": n_answers, "metrics": res["metrics"], "capability": res.get("capability"),
    }


def build_report(results_paths: list[str | Path], title: str | None = None, judge_check: str | Path | None = None,
                 n_boot: int = 1000, labels: list[str] | None = None) -> dict:
    if not results_paths:
        raise ValueError("need at least one results.json (or its folder)")
    if labels and len(labels) != len(results_paths):
        raise ValueError(f"{len(labels)} labels for {len(results_paths)} results")
    taken: set[str] = set()
    models, record_sets = [], []
    for i, path in enumerate(results_paths):
        res, records = load_system(path)
        record_sets.append(records)
        models.append(_model_entry(res, system_label(res, i, taken, labels[i] if labels else None), i, len(records)))
    comparisons = [{"model": m["label"], **compare_systems(record_sets[0], recs, n_boot)}
                   for m, recs in zip(models[1:], record_sets[1:]) if recs and record_sets[0]]
    # every metric in any system's results or paired comparisons: catalog order first, then unknown keys
    found = {k for x in models for k in x["metrics"]["overall"]} | {k for c in comparisons for k in c["metrics"]}
    present = [m.key for m in METRICS if m.key in found] + sorted(found - set(METRICS_BY_KEY))
    taxonomy = load_topics()
    topic_kind = {t: taxonomy[t].kind for m in models for t in m["metrics"].get("by_topic", {}) if t in taxonomy}
    topic_kind.update({r["topic"]: r["kind"] for recs in record_sets for r in recs})
    topics = {t: {"kind": topic_kind[t], "en": taxonomy[t].en if t in taxonomy else t,
                  "zh": taxonomy[t].zh if t in taxonomy else "",
                  "split": taxonomy[t].split if t in taxonomy else "unknown"} for t in sorted(topic_kind)}
    jc = None
    if judge_check:
        raw = json.loads(Path(judge_check).read_text(encoding="utf-8"))
        jc = {"path": str(judge_check), **judge_check_table(raw)}
    capability = capability_table(models)
    primary = models[-1]["label"] if len(models) > 1 else None
    report = {
        "format": REPORT_FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "decensor_version": __version__,
        "title": title or ("Censorship evaluation: " + " vs ".join(m["label"] for m in models)
                           if len(models) > 1 else "Censorship evaluation"),
        "models": models,
        "summary": build_summary(models, comparisons),
        "findings": build_findings(comparisons, capability, primary),
        "cards": [{"key": k, "title": METRICS_BY_KEY[k].title,
                   "values": [x["metrics"]["overall"].get(k) for x in models]}
                  for k in keys_for("headline") if models[0]["metrics"]["overall"].get(k)],
        "metric_info": {k: _metric_row(k) for k in present},
        "systems": systems_table(models, comparisons, present),
        "comparisons": comparisons,
        "languages": language_table(models, comparisons),
        "splits": split_table(models, record_sets, comparisons, n_boot),
        "answer_classes": answer_class_table(models),
        "topics": topics,
        "heatmaps": heatmaps(models, topics, set(present)),
        "examples": select_examples(record_sets),
        "capability": capability,
        "judge_check": jc,
        "methodology": methodology(models),
        "bootstrap": {"n_boot_comparison": n_boot, "level": 0.95, "method": "percentile bootstrap over prompts; "
                      "paired (same prompt) for differences against the base"},
        "limitations": LIMITATIONS,
    }
    return _clean(report)
