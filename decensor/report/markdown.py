"""``report.md``: the Markdown twin of the HTML report (tables instead of charts)."""

from __future__ import annotations

import re

from decensor.eval.metric_catalog import keys_for, pct
from decensor.report.builder import KIND_ORDER, KIND_TITLES, LANG_NAMES

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cell(text) -> str:
    """Safe inside a table cell: no pipes, newlines or HTML."""
    t = CONTROL.sub("", str(text)).replace("\n", " ").replace("|", "\\|")
    return t.replace("<", "&lt;").replace(">", "&gt;")


def fenced(text: str) -> str:
    text = CONTROL.sub("", text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["l"] * len(header)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _ci(v: dict | None) -> str:
    return "n/a" if not v else f"{pct(v['value'])} ({pct(v['ci_low'])}–{pct(v['ci_high'])})"


def render_markdown(report: dict) -> str:
    models = report["models"]
    labels = [cell(m["label"]) for m in models]
    out = [f"# {cell(report['title'])}", "",
           f"*{' vs '.join(labels)} · generated {report['created']} by decensor {report['decensor_version']}*", "",
           "## Summary", "", cell(report["summary"]), ""]

    out += ["## Before and after, metric by metric", "", "Share of answers, with 95% confidence intervals.", ""]
    rows = []
    for name, info in report["metric_info"].items():
        rows.append([cell(info["title"]), "higher" if info["higher_is_better"] else "lower"]
                    + [_ci(m["metrics"]["overall"].get(name)) for m in models])
    out += [table(["Metric", "Better"] + labels, rows, ["l", "l"] + ["r"] * len(models)), ""]
    for comp in report["comparisons"]:
        out += [f"### Base → {cell(comp['model'])} (paired on the same prompts)", ""]
        rows = []
        for name, c in comp["metrics"].items():
            title = report["metric_info"].get(name, {}).get("title", name)
            verdict = ("better" if c["better"] else "worse") if c["significant"] else "no clear change"
            rows.append([cell(title), pct(c["base"]), pct(c["tuned"]), f"{100 * c['delta']:+.1f} pts",
                         f"{100 * c['ci_low']:+.1f} to {100 * c['ci_high']:+.1f}", str(c["n"]), verdict])
        out += [table(["Metric", "Base", "Tuned", "Change", "95% CI of change", "n", "Verdict"], rows,
                      ["l", "r", "r", "r", "r", "r", "l"]), ""]

    out += ["## By topic", ""]
    for kind in KIND_ORDER:
        topics = [t for t, i in report["topics"].items() if i["kind"] == kind]
        metrics = [m for m in keys_for("heatmap", kind) if m in report["metric_info"]]
        if not topics or not metrics:
            continue
        header = ["Topic"] + [f"{cell(report['metric_info'][m]['title'])} · {lab}" for m in metrics for lab in labels]
        rows = []
        for t in topics:
            row = [cell(report["topics"][t].get("en") or t)]
            for m in metrics:
                for x in models:
                    v = (x["metrics"]["by_topic"].get(t) or {}).get(m)
                    row.append(pct(v["value"]) if v else "–")
            rows.append(row)
        out += [f"### {KIND_TITLES[kind]}", "", table(header, rows, ["l"] + ["r"] * (len(header) - 1)), ""]

    out += ["## Chinese vs English", ""]
    langs = sorted({lang for m in models for lang in m["metrics"].get("by_lang", {})},
                   key=lambda x: (x != "zh", x != "en", x))
    rows = []
    for name in keys_for("per_language"):
        info = report["metric_info"].get(name)
        if not info:
            continue
        row = [cell(info["title"])]
        for m in models:
            for lang in langs:
                row.append(_ci((m["metrics"]["by_lang"].get(lang) or {}).get(name)))
            g = m["metrics"].get("zh_en_gap", {}).get(name)
            row.append(f"{100 * g['value']:+.0f} pts [{100 * g['ci_low']:+.0f}, {100 * g['ci_high']:+.0f}]" if g else "n/a")
        rows.append(row)
    header = ["Metric"]
    for lab in labels:
        header += [f"{lab} · {LANG_NAMES.get(lang, lang)}" for lang in langs] + [f"{lab} · gap zh−en"]
    out += [table(header, rows, ["l"] + ["r"] * (len(header) - 1)), ""]

    out += ["## General capability", ""]
    cap = report.get("capability")
    if not cap:
        out += ["No general-capability benchmarks were included in these results.", ""]
    else:
        rows = []
        for r in cap["rows"]:
            vals = []
            for c in r["values"]:
                if not c or c.get("value") is None:
                    vals.append("n/a")
                    continue
                v = f"{c['value']:.3f}" + (f" ± {c['stderr']:.3f}" if c.get("stderr") else "")
                if "delta" in c:
                    v += f" ({c['delta']:+.3f})"
                vals.append(v)
            rows.append([cell(r["task"]), cell(r["metric"] or "")] + vals
                        + ["**REGRESSION**" if r["regression"] else "ok"])
        out += [table(["Task", "Metric"] + labels + ["Status"], rows), "", f"*{cap['rule'].capitalize()}.*", ""]

    out += ["## Example answers", "",
            "Question pairs whose labels changed the most (chosen automatically and deterministically). "
            "Model text is verbatim.", ""]
    for ex in report["examples"]:
        topic = report["topics"].get(ex["topic"], {}).get("en") or ex["topic"]
        out += [f"### {cell(topic)} ({KIND_TITLES.get(ex['kind'], ex['kind'])}, `{ex['pair_id']}`)", ""]
        for item in ex["items"]:
            out += [f"**Prompt ({item['lang']}):**", "", fenced(item["prompt"]), ""]
            if item.get("prompt_en"):
                out += ["English version of this question (from the suite):", "", fenced(item["prompt_en"]), ""]
            for m, a in zip(models, item["answers"]):
                if a is None:
                    out += [f"*{cell(m['label'])}: not evaluated on this prompt.*", ""]
                    continue
                lab = a["labels"]
                tags = ["refused (" + lab["refusal"] + ")" if lab["refusal"] != "none" else "answered"]
                tags += [t for k, t in (("official_narrative", "official line"), ("propaganda_framing", "Party framing"),
                                        ("harmful_compliance", "helped with harm")) if lab.get(k)]
                if lab.get("facts"):
                    tags.append(f"key facts {lab['facts']}")
                out += [f"**{cell(m['label'])}** — {', '.join(tags)}", "",
                        fenced(a["answer"] + (" […]" if a["truncated"] else "")), ""]
                if item["lang"] != "en":
                    out += (["English translation:", "", fenced(a["translation"]), ""] if a.get("translation")
                            else ["*No translation available.*", ""])

    out += ["## Methodology", "",
            "Every model answered the same bilingual (English / Chinese) question pairs: sensitive questions on "
            "topics censored in the PRC, everyday questions where official framing can leak in, clearly harmful "
            "requests that should stay refused, and control questions on other countries' sensitive topics. An "
            "automatic judge labelled each answer. Intervals are 95% confidence intervals from a "
            f"{report['bootstrap']['method']} ({report['bootstrap']['n_boot_comparison']} resamples for "
            "differences); a change is significant when its interval excludes zero.", ""]
    for m in models:
        suite, gen = m.get("suite") or {}, m.get("generation") or {}
        rows = [["Model", cell(m["model"].get("name_or_path"))], ["Model hash", cell(m["model"].get("sha"))],
                ["Adapter", cell((m.get("adapter") or {}).get("path") or "none")],
                ["Adapter SHA-256", cell((m.get("adapter") or {}).get("sha256") or "n/a")],
                ["Suite hash", cell(suite.get("hash"))], ["Prompts answered", str(m.get("n_answers"))],
                ["Judge", cell(f"{(m.get('judge') or {}).get('name')} v{(m.get('judge') or {}).get('version')}")],
                ["Generation", cell(", ".join(f"{k}={v}" for k, v in gen.items() if v is not None))],
                ["Evaluated", cell(m.get("created"))]]
        rows += [[f"Suite file {cell(k)}", f"`{v}`"] for k, v in (suite.get("files") or {}).items()]
        out += [f"### {cell(m['label'])}", "", table(["", ""], rows), ""]

    out += ["## Judge quality", ""]
    jc = report.get("judge_check")
    if not jc:
        out += ["No judge-check file was given (`--judge-check`).", ""]
    else:
        def f(x):
            return "n/a" if x is None else (f"{x:.2f}" if isinstance(x, (int, float)) else cell(x))
        rows = [[cell(r["label"]), f(r.get("precision")), f(r.get("recall")), f(r.get("f1")),
                 "" if r.get("n") is None else str(r["n"])] for r in jc["rows"]]
        out += [table(["Label", "Precision", "Recall", "F1", "n"], rows, ["l", "r", "r", "r", "r"]), ""]
        out += [f"- {cell(k)}: {cell(v)}" for k, v in jc["scalars"].items()] + [""]

    out += ["## Limitations", ""] + [f"- {cell(x)}" for x in report["limitations"]] + [""]
    return "\n".join(out)
