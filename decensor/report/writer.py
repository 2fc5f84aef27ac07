"""``write_report``: build the report model once and write report.json, report.html, report.md and,
optionally, report.pdf from it."""

from __future__ import annotations

import json
from pathlib import Path

from decensor.report.builder import build_report
from decensor.report.pdf import print_pdf
from decensor.report.render import render_html, render_markdown


def write_report(results_paths: list[str | Path], out: str | Path, title: str | None = None,
                 judge_check: str | Path | None = None, n_boot: int = 1000, labels: list[str] | None = None,
                 pdf: bool = False) -> dict[str, Path]:
    report = build_report(results_paths, title=title, judge_check=judge_check, n_boot=n_boot, labels=labels)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    if pdf:
        paths["pdf"] = print_pdf(paths["html"], out / "report.pdf")
    return paths
