"""Inline SVG charts, written by hand so the report is one offline file with no chart library."""

from __future__ import annotations

from html import escape

from decensor.eval.metric_catalog import pct

MODEL_COLORS = ("#94a3b8", "#2563eb", "#0d9488", "#9333ea", "#ea580c", "#db2777")
FONT = "font-family=\"-apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans CJK SC', " \
       "'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif\""


def model_color(i: int) -> str:
    return MODEL_COLORS[i % len(MODEL_COLORS)]


def _t(x: float, y: float, text: str, size: int = 12, anchor: str = "start", weight: str = "normal",
       fill: str = "#1f2937", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}" {extra}>{escape(text)}</text>')


def bar_chart(groups: list[dict], width: int = 940, label_w: int = 300, title: str = "") -> str:
    """Horizontal bars with 95% CI whiskers on a 0-100% axis.

    ``groups``: ``[{"title", "note", "bars": [{"label", "value", "lo", "hi", "color", "opacity"}]}]``.
    """
    bar_h, gap, group_gap, top = 15, 4, 16, 34
    x0, x1 = label_w, width - 64
    span = x1 - x0
    height = top + sum(22 + len(g["bars"]) * (bar_h + gap) + group_gap for g in groups) + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" {FONT}>']
    for k in range(5):
        x = x0 + span * k / 4
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 8}" stroke="#e5e7eb" />')
        out.append(_t(x, top - 12, f"{25 * k}%", 11, "middle", fill="#6b7280"))
    y = top
    for g in groups:
        out.append(_t(8, y + 14, g["title"], 13, weight="600"))
        if g.get("note"):
            out.append(_t(x1 + 60, y + 14, g["note"], 11, "end", fill="#6b7280"))
        y += 22
        for b in g["bars"]:
            v = b.get("value")
            out.append(_t(x0 - 8, y + bar_h - 3, b["label"], 12, "end", fill="#374151"))
            out.append(f'<rect x="{x0}" y="{y}" width="{span}" height="{bar_h}" fill="#f3f4f6" />')
            if v is not None:
                out.append(f'<rect x="{x0}" y="{y}" width="{max(span * v, 1.5):.1f}" height="{bar_h}" '
                           f'fill="{b["color"]}" fill-opacity="{b.get("opacity", 1)}" rx="2" />')
                lo, hi = b.get("lo"), b.get("hi")
                if lo is not None and hi is not None and hi > lo:
                    xl, xh, ym = x0 + span * lo, x0 + span * hi, y + bar_h / 2
                    out.append(f'<g stroke="#111827" stroke-width="1.3"><line x1="{xl:.1f}" y1="{ym}" x2="{xh:.1f}" '
                               f'y2="{ym}" /><line x1="{xl:.1f}" y1="{y + 3}" x2="{xl:.1f}" y2="{y + bar_h - 3}" />'
                               f'<line x1="{xh:.1f}" y1="{y + 3}" x2="{xh:.1f}" y2="{y + bar_h - 3}" /></g>')
            out.append(_t(x1 + 8, y + bar_h - 3, pct(v), 12, weight="600"))
            y += bar_h + gap
        y += group_gap
    out.append("</svg>")
    return "".join(out)


def _heat_color(badness: float) -> tuple[str, str]:
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
            label_w: int = 290, cell_w: int = 78, cell_h: int = 24) -> str:
    """Topics (rows) x metric groups, each split into one column per model.

    ``groups``: ``[{"title", "higher_is_better", "columns": [model labels]}]``; ``values[row][col]``
    runs over all columns of all groups in order.
    """
    n_cols = sum(len(g["columns"]) for g in groups)
    top = 46
    width = label_w + n_cols * cell_w + 16 * len(groups) + 10
    height = top + len(rows) * cell_h + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" {FONT}>']
    x = label_w
    col_x = []
    for g in groups:
        gw = len(g["columns"]) * cell_w
        arrow = "higher is better" if g["higher_is_better"] else "lower is better"
        out.append(_t(x + gw / 2, 13, g["title"], 12, "middle", "600"))
        out.append(_t(x + gw / 2, 26, arrow, 10, "middle", fill="#6b7280"))
        for label in g["columns"]:
            short = label if len(label) <= 11 else label[:10] + "…"
            out.append(_t(x + cell_w / 2, 41, short, 11, "middle", fill="#374151"))
            col_x.append((x, g["higher_is_better"]))
            x += cell_w
        x += 16
    for i, row in enumerate(rows):
        y = top + i * cell_h
        out.append(_t(label_w - 8, y + cell_h / 2 + 4, row if len(row) <= 44 else row[:43] + "…", 12, "end"))
        for j, (cx, hib) in enumerate(col_x):
            v = values[i][j]
            if v is None:
                out.append(f'<rect x="{cx + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" fill="#f3f4f6" />')
                out.append(_t(cx + cell_w / 2, y + cell_h / 2 + 4, "–", 11, "middle", fill="#9ca3af"))
                continue
            fill, fg = _heat_color(1 - v if hib else v)
            out.append(f'<rect x="{cx + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}" rx="2" />')
            out.append(_t(cx + cell_w / 2, y + cell_h / 2 + 4, pct(v), 11, "middle", "600", fg))
    out.append("</svg>")
    return "".join(out)


def heat_legend() -> str:
    cells = []
    for k in range(11):
        fill, _ = _heat_color(k / 10)
        cells.append(f'<rect x="{60 + k * 22}" y="4" width="22" height="12" fill="{fill}" />')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 380 20" width="380" height="20" {FONT}>'
            + _t(54, 14, "better", 11, "end", fill="#6b7280") + "".join(cells)
            + _t(310, 14, "worse", 11, fill="#6b7280") + "</svg>")


def legend(items: list[tuple[str, str, float]]) -> str:
    """``[(label, colour, opacity)]`` as a small inline SVG legend."""
    x, parts = 0, []
    for label, color, opacity in items:
        parts.append(f'<rect x="{x}" y="4" width="14" height="12" fill="{color}" fill-opacity="{opacity}" rx="2" />')
        parts.append(_t(x + 20, 14, label, 12, fill="#374151"))
        x += 34 + 7 * len(label)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {x} 20" width="{x}" height="20" {FONT}>'
            + "".join(parts) + "</svg>")
