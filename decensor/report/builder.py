"""Collect everything a report shows into one JSON-safe dict (``report.json``); the HTML and Markdown
renderers only format what is in it.

Inputs: one or more eval result folders / ``results.json`` files (the first is the base model, the
others tuned variants) and, optionally, a ``decensor eval judge-check`` JSON file.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from pathlib import Path

from decensor import __version__
from decensor.eval.capability import GATE_RULE, capability_verdict
from decensor.eval.metric_catalog import METRICS, pct
from decensor.eval.metrics import compare_records
from decensor.eval.runner import load_records, load_results

logger = logging.getLogger(__name__)
REPORT_FORMAT = "decensor-report/1"

KIND_TITLES = {
    "sensitive": "Sensitive topics (censored in the PRC)",
    "innocent": "Everyday topics",
    "harmful": "Harmful requests",
    "control": "Other countries' sensitive topics (control)",
}
KIND_ORDER = ("sensitive", "innocent", "harmful", "control")
LANG_NAMES = {"en": "English", "zh": "Chinese", "zh-Hant": "Traditional Chinese"}
TRANSLATION_KEYS = ("answer_translation", "translation_en", "answer_en", "translation")


def ci_text(m: dict | None) -> str:
    if not m:
        return "n/a"
    return f"95% CI {pct(m['ci_low'])}–{pct(m['ci_high'])}"


def _clean(obj):
    """JSON-safe copy: NaN/inf -> None."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _topic_names() -> dict[str, dict]:
    try:
        from decensor.data.topics import load_topics

        return {t.id: {"en": t.en, "zh": t.zh, "kind": t.kind} for t in load_topics().values()}
    except Exception:  # noqa: BLE001 - the report still works without the taxonomy
        return {}


def model_label(results: dict, index: int, taken: set[str]) -> str:
    if index == 0:
        label = "Base"
    elif results.get("adapter") and results["adapter"].get("path"):
        label = Path(results["adapter"]["path"].rstrip("/")).name or f"Tuned {index}"
    else:
        label = Path(str(results["model"].get("name_or_path", "")).rstrip("/")).name or f"Tuned {index}"
    if index > 0 and label.lower() == "base":
        label = f"Tuned {index}"
    base, n = label, 2
    while label in taken:
        label, n = f"{base} ({n})", n + 1
    taken.add(label)
    return label


# ----------------------------------------------------------------------------------------- summary


def _val(metrics: dict, name: str) -> dict | None:
    return metrics.get(name)


def build_summary(models: list[dict], comparisons: list[dict]) -> str:
    """One plain-language paragraph computed from the numbers."""
    base = models[0]
    bm = base["metrics"]["overall"]
    parts: list[str] = []
    tuned = models[1] if len(models) > 1 else None
    tm = tuned["metrics"]["overall"] if tuned else {}
    comp = comparisons[0]["metrics"] if comparisons else {}
    n_sens = (bm.get("refusal_rate") or {}).get("n")

    def sig(name: str) -> str:
        c = comp.get(name)
        if not c:
            return ""
        if c["significant"]:
            return (f" — a change of {100 * c['delta']:+.0f} points whose 95% CI "
                    f"({100 * c['ci_low']:+.0f} to {100 * c['ci_high']:+.0f}) excludes zero")
        return " — a change within the margin of error"

    r = _val(bm, "refusal_rate")
    if r:
        s = (f"The base model refused {pct(r['value'])} of {n_sens} sensitive questions about China "
             f"({ci_text(r)})")
        if tuned and _val(tm, "refusal_rate"):
            t = tm["refusal_rate"]
            s += f"; after tuning, {tuned['label']} refused {pct(t['value'])} ({ci_text(t)}){sig('refusal_rate')}"
        parts.append(s + ".")
    o = _val(bm, "official_narrative_rate")
    if o:
        s = f"The base model gave the Chinese government's official line in {pct(o['value'])} of sensitive answers"
        if tuned and _val(tm, "official_narrative_rate"):
            s += f", the tuned model in {pct(tm['official_narrative_rate']['value'])} ({ci_text(tm['official_narrative_rate'])})"
        parts.append(s + ".")
    d = _val(tm or bm, "decensored_answer_rate")
    f = _val(tm or bm, "fact_coverage")
    if d:
        who = "The tuned model" if tuned else "The model"
        s = f"{who} answered {pct(d['value'])} of sensitive questions freely (no refusal, no official line)"
        if f:
            s += f" and mentioned {pct(f['value'])} of the reference key facts on average"
            if tuned and _val(bm, "fact_coverage"):
                s += f" (base: {pct(bm['fact_coverage']['value'])})"
        parts.append(s + ".")
    leak_b, orf_b = _val(bm, "propaganda_leak_rate"), _val(bm, "innocent_over_refusal_rate")
    if leak_b:
        s = f"On everyday, non-political topics, Party framing leaked into {pct(leak_b['value'])} of the base model's answers"
        if tuned and _val(tm, "propaganda_leak_rate"):
            s += f" and {pct(tm['propaganda_leak_rate']['value'])} of the tuned model's"
        if orf_b:
            s += f"; everyday questions were refused {pct(orf_b['value'])} of the time"
            if tuned and _val(tm, "innocent_over_refusal_rate"):
                s += f" before and {pct(tm['innocent_over_refusal_rate']['value'])} after tuning"
        parts.append(s + ".")
    h_b = _val(bm, "harmful_refusal_rate")
    if h_b:
        if tuned and _val(tm, "harmful_refusal_rate"):
            h_t = tm["harmful_refusal_rate"]
            c = comp.get("harmful_refusal_rate")
            s = (f"the tuned model still refused {pct(h_t['value'])} of {h_t['n']} clearly harmful requests "
                 f"({ci_text(h_t)}; base: {pct(h_b['value'])})")
            if c and c["significant"] and c["delta"] < 0:
                parts.append(f"Safety was weakened: {s}.")
            elif h_t["value"] < h_b["value"]:
                parts.append(f"Safety: {s}; the drop is within the margin of error on this sample.")
            else:
                parts.append(f"Safety was kept: {s}.")
        else:
            parts.append(f"The model refused {pct(h_b['value'])} of clearly harmful requests ({ci_text(h_b)}).")
    for m in ([tuned] if tuned else []) + [base]:
        langs = m["metrics"].get("by_lang", {})
        zh, en = (langs.get("zh") or {}).get("refusal_rate"), (langs.get("en") or {}).get("refusal_rate")
        if zh and en:
            who = "the tuned model" if m is tuned else "the base model"
            s = (f"By language, {who} refused {pct(zh['value'])} of sensitive questions asked in Chinese "
                 f"and {pct(en['value'])} of the same questions asked in English")
            if tuned and m is tuned:
                bl = base["metrics"].get("by_lang", {})
                bzh, ben = (bl.get("zh") or {}).get("refusal_rate"), (bl.get("en") or {}).get("refusal_rate")
                if bzh and ben:
                    s += f" (base: {pct(bzh['value'])} in Chinese, {pct(ben['value'])} in English)"
            parts.append(s + ".")
            break
    for extra in models[2:]:
        em = extra["metrics"]["overall"]
        if em.get("refusal_rate"):
            parts.append(f"The variant {extra['label']} refused {pct(em['refusal_rate']['value'])} of sensitive "
                         f"questions ({ci_text(em['refusal_rate'])}).")
    if not parts:
        parts.append("The results contain no metrics this report knows how to summarise.")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------- examples


def _flags(rec: dict) -> dict:
    a = rec["judgement"]["answer"]
    facts = a.get("facts_covered") or []
    return {"refusal": a.get("refusal", "none"), "official_narrative": bool(a.get("official_narrative")),
            "propaganda_framing": bool(a.get("propaganda_framing")),
            "harmful_compliance": bool(a.get("harmful_compliance")),
            "facts": f"{sum(facts)}/{len(facts)}" if facts else None,
            "fact_share": (sum(facts) / len(facts)) if facts else None,
            "evidence": list(a.get("evidence") or [])[:5]}


def _change(a: dict, b: dict) -> float:
    fa, fb = _flags(a), _flags(b)
    score = float((fa["refusal"] != "none") != (fb["refusal"] != "none")) * 2
    score += float(fa["refusal"] != fb["refusal"])
    for k in ("official_narrative", "propaganda_framing", "harmful_compliance"):
        score += float(fa[k] != fb[k]) * 1.5
    if fa["fact_share"] is not None and fb["fact_share"] is not None:
        score += abs(fa["fact_share"] - fb["fact_share"])
    return score


def _flag_score(rec: dict) -> float:
    f = _flags(rec)
    return (2 * (f["refusal"] != "none") + 1.5 * f["official_narrative"] + 1.5 * f["propaganda_framing"]
            + 1.5 * f["harmful_compliance"])


def _translation(rec: dict) -> str | None:
    for key in TRANSLATION_KEYS:
        v = rec.get(key)
        if isinstance(v, str) and v.strip():
            return v
    return None


def _answer_view(rec: dict | None, max_chars: int) -> dict | None:
    if rec is None:
        return None
    text = rec.get("answer") or ""
    view = {"answer": text[:max_chars], "truncated": len(text) > max_chars, "labels": _flags(rec)}
    if rec["lang"] != "en":
        view["translation"] = _translation(rec)
    return view


def select_examples(record_sets: list[list[dict]], n_pairs: int = 4, per_kind: int = 2,
                    max_chars: int = 900) -> list[dict]:
    """Prompt pairs (en + zh) whose labels changed most between base and the first tuned model (or, for
    a single model, that carry the most flags), at most ``per_kind`` per kind; ties broken by id."""
    base = record_sets[0]
    if not base:
        return []
    others = [{r["id"]: r for r in recs} for recs in record_sets[1:]]
    tuned = others[0] if others else None
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for r in base:
        by_pair[r["pair_id"]].append(r)
    scored = []
    for pair_id, recs in by_pair.items():
        if tuned is not None:
            score = sum(_change(r, tuned[r["id"]]) for r in recs if r["id"] in tuned)
        else:
            score = sum(_flag_score(r) for r in recs)
        kind = recs[0]["kind"]
        kind_rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        scored.append((-score, kind_rank, pair_id, recs))
    scored.sort(key=lambda t: t[:3])
    chosen, per = [], defaultdict(int)
    for neg_score, _, pair_id, recs in scored:
        kind = recs[0]["kind"]
        if per[kind] >= per_kind:
            continue
        per[kind] += 1
        langs = sorted(recs, key=lambda r: (r["lang"] != "en", r["lang"]))
        en_prompt = next((r["prompt"] for r in recs if r["lang"] == "en"), None)
        items = []
        for r in langs:
            items.append({
                "id": r["id"], "lang": r["lang"], "prompt": r["prompt"],
                "prompt_en": en_prompt if r["lang"] != "en" else None,
                "answers": [_answer_view(r, max_chars)]
                + [_answer_view(idx.get(r["id"]), max_chars) for idx in others],
            })
        chosen.append({"pair_id": pair_id, "kind": kind, "topic": recs[0]["topic"], "change_score": -neg_score,
                       "items": items})
        if len(chosen) >= n_pairs:
            break
    return chosen


# -------------------------------------------------------------------------------------- capability


def capability_table(models: list[dict]) -> dict | None:
    caps = [m["capability"] for m in models]
    if not any(caps):
        return None
    tasks: list[str] = []
    for c in caps:
        for t in ((c or {}).get("tasks") or {}):
            if t not in tasks:
                tasks.append(t)
    rows = []
    verdicts = [None] + [capability_verdict(caps[0], c) for c in caps[1:]]
    for task in tasks:
        row = {"task": task, "metric": next(((c or {}).get("tasks", {}).get(task, {}).get("metric")
                                             for c in caps if (c or {}).get("tasks", {}).get(task)), None),
               "values": [], "regression": False}
        for c, verdict in zip(caps, verdicts):
            t = ((c or {}).get("tasks") or {}).get(task)
            cell = {"value": t.get("value"), "stderr": t.get("stderr")} if t else None
            gate = ((verdict or {}).get("tasks") or {}).get(task)
            if cell and gate:
                cell["delta"] = gate["delta"]
                cell["regression"] = gate["regressed"]
                row["regression"] |= gate["regressed"]
            row["values"].append(cell)
        rows.append(row)
    gates = [(c or {}).get("gate") for c in caps]
    return {"rows": rows, "gates": gates, "rule": GATE_RULE}


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


# ------------------------------------------------------------------------------------------- build


LIMITATIONS = [
    "Labels come from an automatic judge. The rule judge looks for phrases, not meaning: it can miss "
    "subtle refusals or propaganda and can flag attributed quotations; its measured precision and recall "
    "(judge-check) bound how far the numbers can be trusted.",
    "The evaluation prompts are a fixed, curated sample of topics; results do not cover every censored "
    "subject, phrasing or conversation length, and a model tuned on similar data may do better on them "
    "than on unseen questions.",
    "Fact coverage only checks that reference facts are mentioned, not that the whole answer is accurate; "
    "an answer can cover the facts and still contain errors.",
    "Confidence intervals reflect sampling of prompts, not variation across generation settings, "
    "system prompts or sampling seeds.",
    "Example answers are selected automatically because their labels changed the most; they illustrate "
    "the change but are not a random sample.",
    "Chinese answers are shown in the original. A translation is shown only when one exists in the data; "
    "none is produced by this report.",
]


def build_report(results_paths: list[str | Path], title: str | None = None, judge_check: str | Path | None = None,
                 n_boot: int = 1000) -> dict:
    if not results_paths:
        raise ValueError("need at least one results.json (or its folder)")
    taken: set[str] = set()
    models, record_sets = [], []
    for i, path in enumerate(results_paths):
        res = load_results(path)
        try:
            records = load_records(res)
        except FileNotFoundError:  # metrics still show; comparisons and examples need the answers
            logger.warning("%s: answers file missing; no paired comparison or examples for it", path)
            records = []
        record_sets.append(records)
        models.append({
            "label": model_label(res, i, taken), "role": "base" if i == 0 else "tuned",
            "results_path": str(Path(res["_dir"]) / "results.json"),
            "model": res.get("model"), "adapter": {k: v for k, v in (res.get("adapter") or {}).items() if k != "run"}
            if res.get("adapter") else None,
            "suite": res.get("suite"), "generation": res.get("generation"), "backend": res.get("backend"),
            "judge": res.get("judge"), "created": res.get("created"), "decensor_version": res.get("decensor_version"),
            "n_answers": len(records), "metrics": res["metrics"], "capability": res.get("capability"),
        })
    comparisons = []
    for m, recs in zip(models[1:], record_sets[1:]):
        if not recs or not record_sets[0]:
            continue
        comparisons.append({"model": m["label"], "metrics": compare_records(record_sets[0], recs, n_boot)})
    present = [m for m in METRICS if any(m.key in x["metrics"]["overall"] for x in models)]
    topics = _topic_names()
    topic_kind = {t: topics[t]["kind"] for m in models for t in m["metrics"].get("by_topic", {}) if t in topics}
    topic_kind.update({r["topic"]: r["kind"] for recs in record_sets for r in recs})
    jc = None
    if judge_check:
        raw = json.loads(Path(judge_check).read_text(encoding="utf-8"))
        jc = {"path": str(judge_check), **judge_check_table(raw)}
    report = {
        "format": REPORT_FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "decensor_version": __version__,
        "title": title or ("Censorship evaluation: " + " vs ".join(m["label"] for m in models)
                           if len(models) > 1 else "Censorship evaluation"),
        "models": models,
        "summary": build_summary(models, comparisons),
        "metric_info": {m.key: {"title": m.title, "short": m.short, "description": m.description,
                                "higher_is_better": m.higher_is_better, "kind": m.kind, "views": sorted(m.views)}
                        for m in present},
        "comparisons": comparisons,
        "topics": {t: {"kind": topic_kind[t], **topics.get(t, {"en": t, "zh": ""})} for t in sorted(topic_kind)},
        "examples": select_examples(record_sets),
        "capability": capability_table(models),
        "judge_check": jc,
        "bootstrap": {"n_boot_comparison": n_boot, "level": 0.95, "method": "percentile bootstrap over prompts; "
                      "paired (same prompt) for before/after differences"},
        "limitations": LIMITATIONS,
    }
    return _clean(report)


def write_report(results_paths: list[str | Path], out: str | Path, title: str | None = None,
                 judge_check: str | Path | None = None, n_boot: int = 1000) -> dict[str, Path]:
    from decensor.report.html import render_html
    from decensor.report.markdown import render_markdown

    report = build_report(results_paths, title=title, judge_check=judge_check, n_boot=n_boot)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    return paths
