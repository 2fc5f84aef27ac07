"""Chart layout for the report's inline SVG: plain data (rectangles, lines, texts with coordinates), no
markup. The HTML template draws the shapes (``templates/_svg.html.j2``), so every label is escaped by
Jinja2 like the rest of the page and the report stays one offline file without a chart library."""

from __future__ import annotations

from decensor.eval.metric_catalog import pct

MODEL_COLORS = ("#94a3b8", "#2563eb", "#0d9488", "#9333ea", "#ea580c", "#db2777")
CLASS_COLORS = ("#b91c1c", "#f59e0b", "#047857", "#6b7280", "#2563eb")
GRID, MUTED, INK = "#e5e7eb", "#6b7280", "#1f2937"


def model_color(i: int) -> str:
    return MODEL_COLORS[i % len(MODEL_COLORS)]


def _svg(width: float, height: float, title: str, elements: list[dict]) -> dict:
    return {"width": round(width), "height": round(height), "title": title, "elements": elements}


def text(x: float, y: float, s: str, size: int = 12, anchor: str = "start", weight: str = "normal",
         fill: str = INK) -> dict:
    return {"t": "text", "x": round(x, 1), "y": round(y, 1), "text": str(s), "size": size, "anchor": anchor,
            "weight": weight, "fill": fill}


def rect(x: float, y: float, w: float, h: float, fill: str, opacity: float = 1.0, rx: float = 0) -> dict:
    return {"t": "rect", "x": round(x, 1), "y": round(y, 1), "w": round(w, 1), "h": round(h, 1), "fill": fill,
            "opacity": opacity, "rx": rx}


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, width: float = 1.0) -> dict:
    return {"t": "line", "x1": round(x1, 1), "y1": round(y1, 1), "x2": round(x2, 1), "y2": round(y2, 1),
            "stroke": stroke, "width": width}


def bar_chart(groups: list[dict], width: int = 940, label_w: int = 300, title: str = "") -> list[dict]:
    """Horizontal bars with 95% CI whiskers on a 0-100% axis, one small chart per group (so a long chart
    breaks across printed pages between groups); the first carries the axis labels.

    ``groups``: ``[{"title", "note", "bars": [{"label", "value", "lo", "hi", "color", "opacity"}]}]``.
    """
    bar_h, gap = 15, 4
    x0, x1 = label_w, width - 64
    span = x1 - x0
    charts = []
    for n, g in enumerate(groups):
        top = 34 if n == 0 else 6
        height = top + 22 + len(g["bars"]) * (bar_h + gap) + 10
        out = []
        for k in range(5):
            x = x0 + span * k / 4
            out.append(line(x, top - 6 if n == 0 else 0, x, height))
            if n == 0:
                out.append(text(x, top - 12, f"{25 * k}%", 11, "middle", fill=MUTED))
        y = top
        out.append(text(8, y + 14, g["title"], 13, weight="600"))
        if g.get("note"):
            out.append(text(x1 + 60, y + 14, g["note"], 11, "end", fill=MUTED))
        y += 22
        for b in g["bars"]:
            v = b.get("value")
            out += [text(x0 - 8, y + bar_h - 3, b["label"], 12, "end", fill="#374151"),
                    rect(x0, y, span, bar_h, "#f3f4f6")]
            if v is not None:
                out.append(rect(x0, y, max(span * v, 1.5), bar_h, b["color"], b.get("opacity", 1), 2))
                lo, hi = b.get("lo"), b.get("hi")
                if lo is not None and hi is not None and hi > lo:
                    xl, xh, ym = x0 + span * lo, x0 + span * hi, y + bar_h / 2
                    out += [line(xl, ym, xh, ym, "#111827", 1.3), line(xl, y + 3, xl, y + bar_h - 3, "#111827", 1.3),
                            line(xh, y + 3, xh, y + bar_h - 3, "#111827", 1.3)]
            out.append(text(x1 + 8, y + bar_h - 3, pct(v), 12, weight="600"))
            y += bar_h + gap
        charts.append(_svg(width, height, f"{title}: {g['title']}" if title else g["title"], out))
    return charts


def stacked_bars(rows: list[dict], classes: list[str], width: int = 940, label_w: int = 300,
                 title: str = "") -> dict:
    """One 0-100% bar per row split into classes: ``rows`` = ``[{"label", "values": [share per class]}]``."""
    bar_h, gap, top = 18, 6, 30
    x0, x1 = label_w, width - 20
    span = x1 - x0
    height = top + len(rows) * (bar_h + gap) + 8
    out, x = [], x0
    for j, name in enumerate(classes):  # legend
        out += [rect(x, 6, 12, 12, CLASS_COLORS[j % len(CLASS_COLORS)], 1, 2), text(x + 18, 16, name, 12)]
        x += 34 + 7 * len(name)
    y = top
    for row in rows:
        out.append(text(x0 - 8, y + bar_h - 4, row["label"], 12, "end", fill="#374151"))
        x = x0
        for j, v in enumerate(row["values"]):
            if not v:
                continue
            w = span * v
            out.append(rect(x, y, w, bar_h, CLASS_COLORS[j % len(CLASS_COLORS)]))
            if w > 34:
                out.append(text(x + w / 2, y + bar_h - 4, pct(v), 11, "middle", "600", "#ffffff"))
            x += w
        y += bar_h + gap
    return _svg(width, height, title, out)


def heat_color(badness: float) -> tuple[str, str]:
    """Pale blue (good) -> amber -> dark orange (bad); returns (fill, text colour)."""
    stops = [(0.0, (224, 242, 254)), (0.5, (253, 224, 140)), (1.0, (194, 65, 12))]
    b = min(max(badness, 0.0), 1.0)
    for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
        if b <= p1:
            f = (b - p0) / (p1 - p0)
            rgb = tuple(round(a + (c - a) * f) for a, c in zip(c0, c1))
            break
    return "#%02x%02x%02x" % rgb, ("#ffffff" if b > 0.72 else "#111827")


def heatmap(rows: list[str], groups: list[dict], values: list[list[float | None]], title: str = "",
            label_w: int = 290, cell_w: int = 78, cell_h: int = 24) -> dict:
    """Topics (rows) x metric groups, each split into one column per model.

    ``groups``: ``[{"title", "higher_is_better", "columns": [model labels]}]``; ``values[row][col]``
    runs over all columns of all groups in order.
    """
    n_cols = sum(len(g["columns"]) for g in groups)
    top = 46
    width = label_w + n_cols * cell_w + 16 * len(groups) + 10
    height = top + len(rows) * cell_h + 10
    out, x, col_x = [], label_w, []
    for g in groups:
        gw = len(g["columns"]) * cell_w
        arrow = "higher is better" if g["higher_is_better"] else "lower is better"
        out += [text(x + gw / 2, 13, g["title"], 12, "middle", "600"), text(x + gw / 2, 26, arrow, 10, "middle", fill=MUTED)]
        for label in g["columns"]:
            out.append(text(x + cell_w / 2, 41, label if len(label) <= 11 else label[:10] + "…", 11, "middle",
                            fill="#374151"))
            col_x.append((x, g["higher_is_better"]))
            x += cell_w
        x += 16
    for i, row in enumerate(rows):
        y = top + i * cell_h
        out.append(text(label_w - 8, y + cell_h / 2 + 4, row if len(row) <= 44 else row[:43] + "…", 12, "end"))
        for j, (cx, hib) in enumerate(col_x):
            v = values[i][j]
            if v is None:
                out += [rect(cx + 1, y + 1, cell_w - 2, cell_h - 2, "#f3f4f6"),
                        text(cx + cell_w / 2, y + cell_h / 2 + 4, "–", 11, "middle", fill="#9ca3af")]
                continue
            fill, fg = heat_color(1 - v if hib else v)
            out += [rect(cx + 1, y + 1, cell_w - 2, cell_h - 2, fill, 1, 2),
                    text(cx + cell_w / 2, y + cell_h / 2 + 4, pct(v), 11, "middle", "600", fg)]
    return _svg(width, height, title, out)


def heat_legend() -> dict:
    out = [text(54, 14, "better", 11, "end", fill=MUTED)]
    out += [rect(60 + k * 22, 4, 22, 12, heat_color(k / 10)[0]) for k in range(11)]
    out.append(text(310, 14, "worse", 11, fill=MUTED))
    return _svg(380, 20, "colour scale", out)


def legend(items: list[tuple[str, str, float]]) -> dict:
    """``[(label, colour, opacity)]`` as a small inline legend."""
    x, out = 0, []
    for label, color, opacity in items:
        out += [rect(x, 4, 14, 12, color, opacity, 2), text(x + 20, 14, label, 12, fill="#374151")]
        x += 34 + 7 * len(label)
    return _svg(x, 20, "legend", out)


# --------------------------------------------------------------------------- the report's charts


OPACITY = (1.0, 0.5, 0.25)


def _bars(v: dict | None, label: str, color: str, opacity: float = 1.0) -> dict:
    return {"label": label, "value": v and v["value"], "lo": v and v["ci_low"], "hi": v and v["ci_high"],
            "color": color, "opacity": opacity}


def _note(row: dict) -> str:
    return "" if row["higher_is_better"] is None else "higher is better" if row["higher_is_better"] else "lower is better"


def report_charts(report: dict) -> dict:
    """Every chart of the report, laid out from the report model."""
    models = report["models"]
    labels = [m["label"] for m in models]
    out = {"legend": legend([(lab, model_color(i), 1) for i, lab in enumerate(labels)]),
           "heat_legend": heat_legend()}
    out["overall"] = bar_chart([{"title": row["title"], "note": _note(row),
                                 "bars": [_bars(c["value"], lab, model_color(i))
                                          for i, (lab, c) in enumerate(zip(labels, row["cells"]))]}
                                for row in report["systems"]],
                               title="Every system per metric with 95% confidence intervals")
    langs = report["languages"]
    out["languages"] = bar_chart([{"title": row["title"], "note": _note(row), "bars": [
        _bars(lc["value"], f"{lab} · {lang['name']}", model_color(i), OPACITY[min(j, 2)])
        for i, (lab, c) in enumerate(zip(labels, row["cells"])) for j, (lang, lc) in enumerate(zip(langs["langs"], c["langs"]))]}
        for row in langs["rows"]], title="Chinese vs English")
    out["language_key"] = legend([(lang["name"], "#475569", OPACITY[min(j, 2)]) for j, lang in enumerate(langs["langs"])])
    splits = report["splits"]
    if splits.get("available"):
        out["splits"] = bar_chart([{"title": row["title"], "note": _note(row), "bars": [
            _bars(sc["value"], f"{lab} · {sc['split']}", model_color(i), OPACITY[j])
            for i, (lab, c) in enumerate(zip(labels, row["cells"])) for j, sc in enumerate(c["splits"])]}
            for row in splits["rows"]], title="Seen vs unseen topics")
        out["split_key"] = legend([("seen topics", "#475569", OPACITY[0]), ("unseen topics", "#475569", OPACITY[1])])
    out["answer_classes"] = [stacked_bars([{"label": s["label"], "values": [(v or {}).get("value") for v in s["values"]]}
                                           for s in t["systems"]], [c["short"] for c in t["classes"]], title=t["title"])
                             for t in report["answer_classes"]]
    out["heatmaps"] = [heatmap([t["name"] for t in h["topics"]],
                               [{"title": m["short"], "higher_is_better": m["higher_is_better"], "columns": labels}
                                for m in h["metrics"]], h["values"], title=h["title"])
                       for h in report["heatmaps"]]
    return out
