"""Render the report model (``decensor.report.builder``) with Jinja2 templates: ``report.html.j2`` (HTML,
autoescaped, charts as inline SVG) and ``report.md.j2`` (its Markdown twin). Both read the same dict;
neither computes a number."""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from decensor.eval.metric_catalog import pct, pts
from decensor.report.charts import model_color, report_charts
from decensor.report.summary import ci_text

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SECTIONS = (("summary", "Summary"), ("metrics", "All systems"), ("unseen", "Seen vs unseen topics"),
            ("classes", "How questions were answered"), ("topics", "By topic"), ("languages", "Chinese vs English"),
            ("capability", "General capability"), ("examples", "Example answers"), ("methodology", "Methodology"),
            ("judge", "Judge quality"), ("limitations", "Limitations"))


def strip_control(text) -> str:
    """Model text without control characters (they break XML/HTML parsers and terminals)."""
    return CONTROL.sub("", str(text))


def cell(text) -> str:
    """Safe inside a Markdown table cell: no pipes, newlines or HTML."""
    t = strip_control(text).replace("\n", " ").replace("|", "\\|")
    return t.replace("<", "&lt;").replace(">", "&gt;")


def fenced(text: str) -> str:
    """Verbatim text in a fence longer than any backtick run inside it."""
    text = strip_control(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def score(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.2f}" if isinstance(x, (int, float)) else str(x)


def answer_tags(labels: dict) -> list[tuple[str, bool | None]]:
    """The judge's labels of one answer as (tag, is it bad?) pairs; None = neutral."""
    ref = labels["refusal"]
    tags: list[tuple[str, bool | None]] = [(f"refused ({ref})", True) if ref != "none" else ("answered", False)]
    tags += [(text, True) for key, text in (("official_narrative", "official line"), ("propaganda_framing", "Party framing"),
                                            ("harmful_compliance", "helped with harm"), ("false_claim", "false claim"))
             if labels.get(key)]
    if labels.get("degenerate"):
        tags.append((f"degenerate: {labels['degenerate']}", labels["degenerate"] != "truncated"))
    if labels.get("answer_class"):
        tags.append((f"class: {labels['answer_class']}", None))
    if labels.get("facts"):
        tags.append((f"key facts {labels['facts']}", None))
    return tags


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("decensor.report", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True,
                                                   default=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(pct=pct, pts=pts, cell=cell, fenced=fenced, score=score)
    env.globals.update(zip=zip, answer_tags=answer_tags, ci_text=ci_text, model_color=model_color)
    return env


def _strip_model(obj):
    if isinstance(obj, str):
        return strip_control(obj)
    if isinstance(obj, dict):
        return {k: _strip_model(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip_model(v) for v in obj]
    return obj


def render_html(report: dict) -> str:
    report = _strip_model(report)
    sections = [s for s in SECTIONS if s[0] != "classes" or report["answer_classes"]]
    return environment().get_template("report.html.j2").render(report=report, charts=report_charts(report),
                                                               sections=sections)


def render_markdown(report: dict) -> str:
    text = environment().get_template("report.md.j2").render(report=report)
    return re.sub(r"\n{3,}", "\n\n", text)
