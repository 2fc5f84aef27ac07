"""``report.html``: one self-contained page (inline CSS and SVG, no scripts, no external resources)."""

from __future__ import annotations

import re
from html import escape

from decensor.report import charts
from decensor.eval.metric_catalog import keys_for, pct
from decensor.report.builder import KIND_ORDER, KIND_TITLES, LANG_NAMES, ci_text

OPACITY = (1.0, 0.5, 0.25)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1f2937;font:15px/1.55 -apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,
 'Noto Sans CJK SC','WenQuanYi Zen Hei','PingFang SC','Microsoft YaHei',sans-serif}
main{max-width:1040px;margin:0 auto;padding:28px 28px 60px}
header{border-bottom:3px solid #1e3a8a;margin-bottom:22px;padding-bottom:12px}
h1{font-size:28px;margin:0 0 6px;color:#0f172a;letter-spacing:-.01em}
h2{font-size:20px;margin:34px 0 10px;color:#0f172a;border-bottom:1px solid #e5e7eb;padding-bottom:6px}
h3{font-size:16px;margin:22px 0 8px;color:#1e3a8a}
.meta{color:#6b7280;font-size:13px}
.summary{background:#fff;border-left:5px solid #1e3a8a;padding:16px 20px;border-radius:6px;font-size:16.5px;
 line-height:1.65;box-shadow:0 1px 2px rgba(0,0,0,.05)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;margin:16px 0 4px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06);border:1px solid #e5e7eb}
.card .k{font-size:12.5px;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:24px;font-weight:700;color:#0f172a;margin-top:2px}
.card .v .arrow{color:#9ca3af;font-weight:400;margin:0 6px}
.card .d{font-size:12.5px;color:#6b7280}
.panel{background:#fff;border-radius:8px;padding:14px 16px;border:1px solid #e5e7eb;overflow-x:auto;margin:10px 0}
svg.chart{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;font-size:13.5px;background:#fff}
th,td{padding:6px 9px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f1f5f9;font-weight:600;color:#334155}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td:last-child{white-space:nowrap}
.good{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:600}.muted{color:#6b7280}
.flag{display:inline-block;background:#fee2e2;color:#991b1b;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600}
.ok{display:inline-block;background:#dcfce7;color:#166534;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600}
.example{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:14px 0;padding:12px 16px}
.example .prompt{font-weight:600;margin:6px 0}
.example .prompt-en{color:#4b5563;font-size:13.5px;margin-bottom:6px}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
.answer{background:#f8fafc;border:1px solid #e2e8f0;border-radius:6px;padding:8px 10px}
.answer .who{font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;margin-bottom:4px}
.answer .text{white-space:pre-wrap;word-break:break-word;font-size:14px}
.answer .tr{margin-top:6px;font-size:13px;color:#4b5563;border-top:1px dashed #cbd5e1;padding-top:4px}
.tag{display:inline-block;font-size:11.5px;border-radius:10px;padding:0 8px;margin:4px 4px 0 0;background:#e2e8f0;color:#334155}
.tag.red{background:#fee2e2;color:#991b1b}.tag.green{background:#dcfce7;color:#166534}
.lang{display:inline-block;font-size:11px;font-weight:700;background:#1e3a8a;color:#fff;border-radius:3px;padding:0 5px;margin-right:6px}
dl.kv{display:grid;grid-template-columns:220px 1fr;gap:4px 12px;margin:0;font-size:13.5px}
dl.kv dt{color:#6b7280}dl.kv dd{margin:0;word-break:break-all}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f5f9;padding:0 3px;border-radius:3px}
ul.lim li{margin:4px 0}
footer{margin-top:40px;color:#9ca3af;font-size:12px}
@media print{body{background:#fff}.panel,.example,.card{break-inside:avoid}}
"""


def e(text) -> str:
    return escape(CONTROL.sub("", str(text)), quote=True)


def _models(report):
    return report["models"]


def _key_cards(report) -> str:
    models = report["models"]
    base, tuned = models[0], (models[1] if len(models) > 1 else None)
    cards = []
    for name in keys_for("headline"):
        info = report["metric_info"].get(name)
        b = base["metrics"]["overall"].get(name)
        if not info or not b:
            continue
        t = tuned["metrics"]["overall"].get(name) if tuned else None
        value = f"{pct(b['value'])}" + (f'<span class="arrow">→</span>{pct(t["value"])}' if t else "")
        cards.append(f'<div class="card"><div class="k">{e(info["title"])}</div><div class="v">{value}</div>'
                     f'<div class="d">{"base → " + e(tuned["label"]) if t else e(ci_text(b))}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>' if cards else ""


def _overall_chart(report) -> str:
    groups = []
    for name, info in report["metric_info"].items():
        bars = []
        for i, m in enumerate(report["models"]):
            v = m["metrics"]["overall"].get(name)
            bars.append({"label": m["label"], "value": v and v["value"], "lo": v and v["ci_low"],
                         "hi": v and v["ci_high"], "color": charts.model_color(i)})
        groups.append({"title": info["title"], "note": "higher is better" if info["higher_is_better"] else
                       "lower is better", "bars": bars})
    return charts.bar_chart(groups, title="Before/after per metric with 95% confidence intervals")


def _change_table(report) -> str:
    if not report["comparisons"]:
        rows = []
        for name, info in report["metric_info"].items():
            cells = []
            for m in report["models"]:
                v = m["metrics"]["overall"].get(name)
                cells.append(f'<td class="num">{pct(v["value"])} <span class="muted">({pct(v["ci_low"])}–'
                             f'{pct(v["ci_high"])}, n={v["n"]})</span></td>' if v else '<td class="num muted">n/a</td>')
            rows.append(f'<tr><td>{e(info["title"])}<div class="muted">{e(info["description"])}</div></td>'
                        f'{"".join(cells)}</tr>')
        head = "".join(f'<th class="num">{e(m["label"])} (95% CI)</th>' for m in report["models"])
        return f'<div class="panel"><table><tr><th>Metric</th>{head}</tr>{"".join(rows)}</table></div>'
    out = []
    for comp in report["comparisons"]:
        rows = []
        for name, c in comp["metrics"].items():
            info = report["metric_info"].get(name, {"title": name, "description": ""})
            if c["significant"]:
                verdict = '<span class="good">better</span>' if c["better"] else '<span class="bad">worse</span>'
            else:
                verdict = '<span class="muted">no clear change</span>'
            rows.append(f'<tr><td>{e(info["title"])}<div class="muted">{e(info["description"])}</div></td>'
                        f'<td class="num">{pct(c["base"])}</td><td class="num">{pct(c["tuned"])}</td>'
                        f'<td class="num">{100 * c["delta"]:+.1f} pts</td>'
                        f'<td class="num">{100 * c["ci_low"]:+.1f} to {100 * c["ci_high"]:+.1f}</td>'
                        f'<td class="num">{c["n"]}</td><td>{verdict}</td></tr>')
        out.append(f'<h3>Base → {e(comp["model"])} (paired on the same prompts)</h3><div class="panel"><table>'
                   '<tr><th>Metric</th><th class="num">Base</th><th class="num">Tuned</th><th class="num">Change</th>'
                   '<th class="num">95% CI of change</th><th class="num">n</th><th>Verdict</th></tr>'
                   f'{"".join(rows)}</table></div>')
    return "".join(out)


def _heatmaps(report) -> str:
    models = report["models"]
    out = []
    for kind in KIND_ORDER:
        topics = [t for t, info in report["topics"].items() if info["kind"] == kind]
        metrics = [m for m in keys_for("heatmap", kind) if m in report["metric_info"]]
        if not topics or not metrics:
            continue
        groups = [{"title": report["metric_info"][m]["short"], "higher_is_better": report["metric_info"][m]["higher_is_better"],
                   "columns": [x["label"] for x in models]} for m in metrics]
        values, labels = [], []
        for t in topics:
            labels.append(report["topics"][t].get("en") or t)
            row = []
            for m in metrics:
                for x in models:
                    v = (x["metrics"]["by_topic"].get(t) or {}).get(m)
                    row.append(v["value"] if v else None)
            values.append(row)
        n_per = max(((x["metrics"]["by_topic"].get(t) or {}).get(metrics[0]) or {}).get("n", 0)
                    for t in topics for x in models)
        out.append(f'<h3>{e(KIND_TITLES[kind])}</h3><div class="panel">'
                   + charts.heatmap(labels, groups, values, title=KIND_TITLES[kind])
                   + f'<div class="muted" style="font-size:12.5px;margin-top:6px">Up to {n_per} answers per topic '
                     f'and model: single topics are small samples; read them as indications.</div></div>')
    if out:
        out.insert(0, f'<div class="muted">{charts.heat_legend()}</div>')
    return "".join(out)


def _lang_section(report) -> str:
    models = report["models"]
    langs = sorted({lang for m in models for lang in m["metrics"].get("by_lang", {})},
                   key=lambda x: (x != "zh", x != "en", x))
    if len(langs) < 2:
        return '<p class="muted">Only one language was evaluated.</p>'
    groups = []
    for name in keys_for("per_language"):
        info = report["metric_info"].get(name)
        if not info:
            continue
        bars = []
        for i, m in enumerate(models):
            for j, lang in enumerate(langs):
                v = (m["metrics"]["by_lang"].get(lang) or {}).get(name)
                bars.append({"label": f"{m['label']} · {LANG_NAMES.get(lang, lang)}", "value": v and v["value"],
                             "lo": v and v["ci_low"], "hi": v and v["ci_high"], "color": charts.model_color(i),
                             "opacity": OPACITY[min(j, 2)]})
        groups.append({"title": info["title"], "note": "higher is better" if info["higher_is_better"]
                       else "lower is better", "bars": bars})
    rows = []
    for name in keys_for("per_language"):
        info = report["metric_info"].get(name)
        if not info:
            continue
        cells = []
        for m in models:
            g = m["metrics"].get("zh_en_gap", {}).get(name)
            cells.append(f'<td class="num">{100 * g["value"]:+.0f} pts <span class="muted">'
                         f'[{100 * g["ci_low"]:+.0f}, {100 * g["ci_high"]:+.0f}]</span></td>' if g
                         else '<td class="num muted">n/a</td>')
        rows.append(f'<tr><td>{e(info["title"])}</td>{"".join(cells)}</tr>')
    head = "".join(f'<th class="num">{e(m["label"])}</th>' for m in models)
    key = charts.legend([(LANG_NAMES.get(lang, lang), "#475569", OPACITY[min(j, 2)]) for j, lang in enumerate(langs)])
    return ('<div class="panel">' + key + charts.bar_chart(groups, title="Chinese vs English") + '</div>'
            '<p>Gap = Chinese minus English on the same question pairs (positive: higher in Chinese), with 95% CI.</p>'
            f'<div class="panel"><table><tr><th>Metric</th>{head}</tr>{"".join(rows)}</table></div>')


def _capability(report) -> str:
    cap = report.get("capability")
    if not cap:
        return ('<p class="muted">No general-capability benchmarks were included in these results, so this report '
                'cannot say whether tuning affected general abilities.</p>')
    models = report["models"]
    head = "".join(f'<th class="num">{e(m["label"])}</th>' for m in models)
    rows = []
    for r in cap["rows"]:
        cells = []
        for i, c in enumerate(r["values"]):
            if not c or c.get("value") is None:
                cells.append('<td class="num muted">n/a</td>')
                continue
            txt = f'{c["value"]:.3f}' + (f' <span class="muted">± {c["stderr"]:.3f}</span>' if c.get("stderr") else "")
            if "delta" in c:
                cls = "bad" if c.get("regression") else "muted"
                txt += f' <span class="{cls}">({c["delta"]:+.3f})</span>'
            cells.append(f'<td class="num">{txt}</td>')
        flag = '<span class="flag">regression</span>' if r["regression"] else '<span class="ok">ok</span>'
        rows.append(f'<tr><td>{e(r["task"])}</td><td>{e(r["metric"] or "")}</td>{"".join(cells)}<td>{flag}</td></tr>')
    gates = ""
    for m, g in zip(models, cap["gates"]):
        if isinstance(g, dict) and g:
            items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in g.items() if not isinstance(v, (dict, list)))
            if items:
                gates += f'<h3>Capability gate ({e(m["label"])})</h3><div class="panel"><dl class="kv">{items}</dl></div>'
    return (f'<div class="panel"><table><tr><th>Task</th><th>Metric</th>{head}<th>Status</th></tr>{"".join(rows)}'
            f'</table></div><p class="muted">{e(cap["rule"].capitalize())}.</p>{gates}')


def _labels_html(labels: dict) -> str:
    tags = []
    ref = labels["refusal"]
    tags.append(f'<span class="tag {"red" if ref != "none" else "green"}">'
                f'{"refused (" + ref + ")" if ref != "none" else "answered"}</span>')
    for key, text in (("official_narrative", "official line"), ("propaganda_framing", "Party framing"),
                      ("harmful_compliance", "helped with harm")):
        if labels.get(key):
            tags.append(f'<span class="tag red">{text}</span>')
    if labels.get("facts"):
        tags.append(f'<span class="tag">key facts {e(labels["facts"])}</span>')
    return "".join(tags)


def _examples(report) -> str:
    if not report["examples"]:
        return '<p class="muted">No examples.</p>'
    models = report["models"]
    out = []
    for ex in report["examples"]:
        topic = report["topics"].get(ex["topic"], {}).get("en") or ex["topic"]
        parts = [f'<div class="example"><div class="meta">{e(KIND_TITLES.get(ex["kind"], ex["kind"]))} · '
                 f'{e(topic)} · <code>{e(ex["pair_id"])}</code></div>']
        for item in ex["items"]:
            parts.append(f'<div class="prompt"><span class="lang">{e(item["lang"])}</span>{e(item["prompt"])}</div>')
            if item.get("prompt_en"):
                parts.append(f'<div class="prompt-en">English version of this question (from the suite): '
                             f'{e(item["prompt_en"])}</div>')
            cols = []
            for i, (m, a) in enumerate(zip(models, item["answers"])):
                if a is None:
                    cols.append(f'<div class="answer"><div class="who" style="color:{charts.model_color(i)}">'
                                f'{e(m["label"])}</div><div class="muted">not evaluated on this prompt</div></div>')
                    continue
                text = e(a["answer"]) + (' <span class="muted">[…]</span>' if a["truncated"] else "")
                tr = ""
                if item["lang"] != "en":
                    tr = (f'<div class="tr">English translation: {e(a["translation"])}</div>' if a.get("translation")
                          else '<div class="tr"><em>No translation available.</em></div>')
                color = charts.model_color(i) if i else "#475569"
                cols.append(f'<div class="answer"><div class="who" style="color:{color}">{e(m["label"])}</div>'
                            f'<div class="text">{text or "<span class=muted>(empty answer)</span>"}</div>{tr}'
                            f'<div>{_labels_html(a["labels"])}</div></div>')
            parts.append(f'<div class="pair">{"".join(cols)}</div>')
        parts.append("</div>")
        out.append("".join(parts))
    return "".join(out)


def _methodology(report) -> str:
    out = []
    for m in report["models"]:
        gen = m.get("generation") or {}
        suite = m.get("suite") or {}
        sel = suite.get("selection") or {}
        items = [
            ("Model", m["model"].get("name_or_path")), ("Model revision", m["model"].get("revision")),
            ("Model hash", m["model"].get("sha")),
            ("Adapter", (m.get("adapter") or {}).get("path") or "none"),
            ("Adapter SHA-256", (m.get("adapter") or {}).get("sha256") or "n/a"),
            ("Suite hash (SHA-256)", suite.get("hash")), ("Prompts answered", m.get("n_answers")),
            ("Selection", ", ".join(f"{k}={v}" for k, v in sel.items() if v is not None) or "all prompts"),
            ("Judge", f'{(m.get("judge") or {}).get("name")} v{(m.get("judge") or {}).get("version")}'),
            ("Backend", m.get("backend")),
            ("Generation", ", ".join(f"{k}={v}" for k, v in gen.items() if v is not None)),
            ("Evaluated", m.get("created")), ("decensor version", m.get("decensor_version")),
            ("Results file", m.get("results_path")),
        ]
        files = "".join(f"<dt>{e(k)}</dt><dd><code>{e(v)}</code></dd>" for k, v in (suite.get("files") or {}).items())
        out.append(f'<h3>{e(m["label"])}</h3><div class="panel"><dl class="kv">'
                   + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items) + files + "</dl></div>")
    b = report["bootstrap"]
    intro = ("<p>Every model answered the same bilingual (English / Chinese) question pairs from the evaluation "
             "suites: <b>sensitive</b> questions on topics censored in the PRC, <b>everyday</b> questions where "
             "official framing can leak in, clearly <b>harmful</b> requests that should stay refused, and "
             "<b>control</b> questions on other countries' sensitive topics (checks that tuning adds no slant "
             "either way). An automatic judge labelled each answer (refusal, official line, Party framing, "
             "harmful help, key facts mentioned). Percentages are shares of answers; whiskers and ranges are "
             f"{int(b['level'] * 100)}% confidence intervals from a {e(b['method'])} "
             f"({b['n_boot_comparison']} resamples for the before/after differences). A change is called "
             "significant when its interval excludes zero.</p>")
    return intro + "".join(out)


def _judge(report) -> str:
    jc = report.get("judge_check")
    if not jc:
        return ('<p class="muted">No judge-check file was given (<code>--judge-check</code>), so the judge\'s '
                'precision and recall on hand-labelled answers are not shown here.</p>')
    rows = "".join(
        f'<tr><td>{e(r["label"])}</td>' + "".join(
            f'<td class="num">{"n/a" if r.get(k) is None else f"{r[k]:.2f}" if isinstance(r[k], (int, float)) else e(r[k])}</td>'
            for k in ("precision", "recall", "f1")) + f'<td class="num">{e(r["n"]) if r.get("n") is not None else ""}</td></tr>'
        for r in jc["rows"])
    scalars = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in jc["scalars"].items())
    return ('<p>How often the automatic judge agrees with human labels on a hand-labelled calibration set. '
            'Precision: of the answers the judge flagged, the share humans flagged too; recall: of the answers '
            'humans flagged, the share the judge caught.</p>'
            f'<div class="panel"><table><tr><th>Label</th><th class="num">Precision</th><th class="num">Recall</th>'
            f'<th class="num">F1</th><th class="num">n</th></tr>{rows}</table></div>'
            + (f'<div class="panel"><dl class="kv">{scalars}</dl></div>' if scalars else "")
            + f'<p class="muted">Source: <code>{e(jc["path"])}</code></p>')


def render_html(report: dict) -> str:
    models = report["models"]
    legend = charts.legend([(m["label"], charts.model_color(i), 1) for i, m in enumerate(models)])
    sections = [
        ("summary", "Summary", f'<div class="summary">{e(report["summary"])}</div>{_key_cards(report)}'),
        ("metrics", "Before and after, metric by metric",
         f'<p>Each bar is the share of answers; the black whisker is the 95% confidence interval.</p>'
         f'<div class="panel">{legend}{_overall_chart(report)}</div>{_change_table(report)}'),
        ("topics", "By topic", _heatmaps(report)),
        ("languages", "Chinese vs English", f'{legend}{_lang_section(report)}'),
        ("capability", "General capability", _capability(report)),
        ("examples", "Example answers",
         "<p>Question pairs whose labels changed the most between the models (chosen automatically and "
         "deterministically), each asked in both languages. Model text is shown verbatim.</p>" + _examples(report)),
        ("methodology", "Methodology", _methodology(report)),
        ("judge", "Judge quality", _judge(report)),
        ("limitations", "Limitations", '<ul class="lim">' + "".join(f"<li>{e(x)}</li>" for x in report["limitations"])
         + "</ul>"),
    ]
    nav = " · ".join(f'<a href="#{sid}">{e(title)}</a>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{e(title)}</h2>{html}</section>' for sid, title, html in sections)
    who = " vs ".join(e(m["label"]) for m in models)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{e(report["title"])}</title><style>{CSS}</style></head><body><main>'
            f'<header><h1>{e(report["title"])}</h1><div class="meta">{who} · generated {e(report["created"])} by '
            f'decensor {e(report["decensor_version"])}</div><div class="meta" style="margin-top:6px">{nav}</div></header>'
            f'{body}<footer>Generated by decensor report. The data behind this page is in report.json.</footer>'
            f'</main></body></html>\n')
