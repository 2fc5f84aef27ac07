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
from collections import defaultdict
from pathlib import Path

from decensor import __version__
from decensor.data.topics import SPLITS, load_topics
from decensor.eval.capability import GATE_RULE, capability_verdict
from decensor.eval.metric_catalog import METRICS, METRICS_BY_KEY, keys_for, pct, pts
from decensor.eval.metrics import SPLIT_NAMES
from decensor.eval.systems import compare_systems, load_system, split_metrics, system_label

REPORT_FORMAT = "decensor-report/2"

KIND_TITLES = {
    "sensitive": "Sensitive topics (censored in the PRC)",
    "innocent": "Everyday topics",
    "harmful": "Harmful requests",
    "control": "Other countries' sensitive topics (control)",
}
KIND_ORDER = ("sensitive", "innocent", "harmful", "control")
LANG_NAMES = {"en": "English", "zh": "Simplified Chinese", "zh-Hant": "Traditional Chinese"}


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


# ----------------------------------------------------------------------------------------- summary


def _delta_text(c: dict) -> str:
    return f"{pts(c['delta'])}, 95% CI {pts(c['ci_low'], unit='')} to {pts(c['ci_high'], unit='')}"


def build_summary(models: list[dict], comparisons: list[dict]) -> str:
    """One plain-language paragraph computed from the numbers: the base system, the last (primary) system
    against it, and one sentence for each system in between. It opens with the catalog's ``lead`` metric
    (answered correctly) when the results hold it."""
    base = models[0]
    bm = base["metrics"]["overall"]
    parts: list[str] = []
    tuned = models[-1] if len(models) > 1 else None
    tm = tuned["metrics"]["overall"] if tuned else {}
    comp = next((c["metrics"] for c in comparisons if tuned and c["model"] == tuned["label"]), {})
    n_sens = (bm.get("refusal_rate") or {}).get("n")

    def sig(name: str) -> str:
        c = comp.get(name)
        if not c:
            return ""
        if c["significant"]:
            return (f" — a change of {pts(c['delta'], unit=' points')} whose 95% CI "
                    f"({pts(c['ci_low'], unit='')} to {pts(c['ci_high'], unit='')}) excludes zero")
        return " — a change within the margin of error"

    for metric in [m for m in METRICS if "lead" in m.views]:
        lead_b, lead_t = bm.get(metric.key), tm.get(metric.key)
        if lead_t and tuned:
            parts.append(f"{metric.title}: {tuned['label']} {pct(lead_t['value'])} ({ci_text(lead_t)}), "
                         f"base {pct(lead_b['value']) if lead_b else 'n/a'}{sig(metric.key)}.")
        elif lead_b:
            parts.append(f"{metric.title}: {pct(lead_b['value'])} ({ci_text(lead_b)}).")
    r = bm.get("refusal_rate")
    if r:
        s = (f"The base model refused {pct(r['value'])} of {n_sens} sensitive questions about China "
             f"({ci_text(r)})")
        if tuned and tm.get("refusal_rate"):
            t = tm["refusal_rate"]
            s += f"; after tuning, {tuned['label']} refused {pct(t['value'])} ({ci_text(t)}){sig('refusal_rate')}"
        parts.append(s + ".")
    o = bm.get("official_narrative_rate")
    if o:
        s = f"The base model gave the Chinese government's official line in {pct(o['value'])} of sensitive answers"
        if tuned and tm.get("official_narrative_rate"):
            s += f", {tuned['label']} in {pct(tm['official_narrative_rate']['value'])} ({ci_text(tm['official_narrative_rate'])})"
        parts.append(s + ".")
    d, f = (tm or bm).get("decensored_answer_rate"), (tm or bm).get("fact_coverage")
    if d:
        who = tuned["label"] if tuned else "The model"
        s = f"{who} answered {pct(d['value'])} of sensitive questions freely (no refusal, no official line)"
        if f:
            s += f" and mentioned {pct(f['value'])} of the reference key facts on average"
            if tuned and bm.get("fact_coverage"):
                s += f" (base: {pct(bm['fact_coverage']['value'])})"
        parts.append(s + ".")
    leak_b, orf_b = bm.get("propaganda_leak_rate"), bm.get("innocent_over_refusal_rate")
    if leak_b:
        s = f"On everyday, non-political topics, Party framing leaked into {pct(leak_b['value'])} of the base model's answers"
        if tuned and tm.get("propaganda_leak_rate"):
            s += f" and {pct(tm['propaganda_leak_rate']['value'])} of {tuned['label']}'s"
        if orf_b:
            s += f"; everyday questions were refused {pct(orf_b['value'])} of the time"
            if tuned and tm.get("innocent_over_refusal_rate"):
                s += f" before and {pct(tm['innocent_over_refusal_rate']['value'])} after tuning"
        parts.append(s + ".")
    h_b = bm.get("harmful_refusal_rate")
    if h_b:
        if tuned and tm.get("harmful_refusal_rate"):
            h_t = tm["harmful_refusal_rate"]
            c = comp.get("harmful_refusal_rate")
            s = (f"{tuned['label']} still refused {pct(h_t['value'])} of {h_t['n']} clearly harmful requests "
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
            who = tuned["label"] if m is tuned else "the base model"
            s = (f"By language, {who} refused {pct(zh['value'])} of sensitive questions asked in Chinese "
                 f"and {pct(en['value'])} of the same questions asked in English")
            if tuned and m is tuned:
                bl = base["metrics"].get("by_lang", {})
                bzh, ben = (bl.get("zh") or {}).get("refusal_rate"), (bl.get("en") or {}).get("refusal_rate")
                if bzh and ben:
                    s += f" (base: {pct(bzh['value'])} in Chinese, {pct(ben['value'])} in English)"
            parts.append(s + ".")
            break
    for extra in models[1:-1]:
        em = extra["metrics"]["overall"]
        if em.get("refusal_rate"):
            parts.append(f"For comparison, {extra['label']} refused {pct(em['refusal_rate']['value'])} of sensitive "
                         f"questions ({ci_text(em['refusal_rate'])}).")
    if not parts:
        parts.append("The results contain no metrics this report knows how to summarise.")
    return " ".join(parts)


def _finding(metric_key: str, c: dict, where: str, where_text: str) -> dict:
    title = METRICS_BY_KEY[metric_key].title if metric_key in METRICS_BY_KEY else metric_key
    text = f"{title}{where_text}: {pct(c['base'])} → {pct(c['tuned'])} ({_delta_text(c)}, n = {c['n']})"
    return {"metric": metric_key, "where": where, "text": text,
            "direction": "better" if c["better"] else "worse" if c["delta"] != 0 else "none"}


def build_findings(comparisons: list[dict], capability: dict | None, primary: str | None) -> dict:
    """What worked, what did not and what stayed unclear for the primary (last) system against the base:
    every paired comparison overall, per language and on unseen topics sorted into three lists, with the
    capability verdict. Nothing is left out: a metric that got worse is listed as plainly as one that
    improved."""
    worked, failed, unclear = [], [], []
    comp = next((c for c in comparisons if c["model"] == primary), None)
    if comp:
        groups = [("all", "", comp["metrics"])]
        groups += [(lang, f", asked in {LANG_NAMES.get(lang, lang)}", ms) for lang, ms in comp.get("by_lang", {}).items()]
        groups += [("unseen", ", on unseen topics", comp.get("by_split", {}).get("unseen") or {})]
        for where, where_text, metrics in groups:
            for key, c in metrics.items():
                f = _finding(key, c, where, where_text)
                if c["significant"] and c["better"]:
                    worked.append(f)
                elif c["significant"]:
                    failed.append(f)
                elif where == "all":
                    unclear.append(f)
    for row in (capability or {}).get("rows", []) if primary else []:
        cell = row["values"][-1]
        if cell and "delta" in cell:
            text = (f"General capability, {row['task']} ({row['metric']}): {cell['value']:.3f}, "
                    f"{cell['delta']:+.3f} against the base")
            finding = {"metric": f"capability:{row['task']}", "where": "all", "direction": "worse"
                       if cell["delta"] < 0 else "better", "text": text}
            (failed if cell["regression"] else unclear).append(
                {**finding, "text": text + (", a regression by the capability gate" if cell["regression"]
                                            else ", within the capability gate")})
    return {"system": primary, "worked": worked, "did_not_work": failed, "no_clear_change": unclear}


# ---------------------------------------------------------------------------------------- examples


def _flags(rec: dict) -> dict:
    a = rec["judgement"]["answer"]
    facts = a.get("facts_covered") or []
    return {"refusal": a.get("refusal", "none"), "official_narrative": bool(a.get("official_narrative")),
            "propaganda_framing": bool(a.get("propaganda_framing")),
            "harmful_compliance": bool(a.get("harmful_compliance")),
            "false_claim": bool(any(a.get("false_claims") or [])),
            "answer_class": a.get("answer_class"), "degenerate": a.get("degenerate"),
            "facts": f"{sum(facts)}/{len(facts)}" if facts else None,
            "fact_share": (sum(facts) / len(facts)) if facts else None,
            "evidence": list(a.get("evidence") or [])[:5]}


FLAG_WEIGHTS = {"official_narrative": 1.5, "propaganda_framing": 1.5, "harmful_compliance": 1.5, "false_claim": 1.5}


def _change(a: dict, b: dict) -> float:
    fa, fb = _flags(a), _flags(b)
    score = float((fa["refusal"] != "none") != (fb["refusal"] != "none")) * 2
    score += float(fa["refusal"] != fb["refusal"])
    score += sum(w * float(fa[k] != fb[k]) for k, w in FLAG_WEIGHTS.items())
    if fa["fact_share"] is not None and fb["fact_share"] is not None:
        score += abs(fa["fact_share"] - fb["fact_share"])
    return score


def _flag_score(rec: dict) -> float:
    f = _flags(rec)
    return 2 * (f["refusal"] != "none") + sum(w * f[k] for k, w in FLAG_WEIGHTS.items())


def _answer_view(rec: dict | None, max_chars: int) -> dict | None:
    if rec is None:
        return None
    text = rec.get("answer") or ""
    view = {"answer": text[:max_chars], "truncated": len(text) > max_chars, "labels": _flags(rec)}
    if rec["lang"] != "en":
        t = rec.get("answer_translation")
        view["translation"] = t if isinstance(t, str) and t.strip() else None
    return view


def select_examples(record_sets: list[list[dict]], n_pairs: int = 4, per_kind: int = 2,
                    max_chars: int = 900) -> list[dict]:
    """Prompt pairs (en + zh) whose labels changed most between the base and the last system (or, for
    a single system, that carry the most flags), at most ``per_kind`` per kind; ties broken by id."""
    base = record_sets[0]
    if not base:
        return []
    others = [{r["id"]: r for r in recs} for recs in record_sets[1:]]
    primary = others[-1] if others else None
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for r in base:
        by_pair[r["pair_id"]].append(r)
    scored = []
    for pair_id, recs in by_pair.items():
        if primary is not None:
            score = sum(_change(r, primary[r["id"]]) for r in recs if r["id"] in primary)
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
        items = [{"id": r["id"], "lang": r["lang"], "prompt": r["prompt"],
                  "prompt_en": en_prompt if r["lang"] != "en" else None,
                  "answers": [_answer_view(r, max_chars)] + [_answer_view(idx.get(r["id"]), max_chars)
                                                              for idx in others]}
                 for r in langs]
        chosen.append({"pair_id": pair_id, "kind": kind, "kind_title": KIND_TITLES.get(kind, kind),
                       "topic": recs[0]["topic"], "change_score": -neg_score, "items": items})
        if len(chosen) >= n_pairs:
            break
    return chosen


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
