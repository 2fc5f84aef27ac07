"""Reports for policy readers: one report model (``builder``) rendered as a self-contained HTML page, its
Markdown twin (``render``, Jinja2 templates) and a PDF printed by headless Chromium (``pdf``)."""

from decensor.report.builder import build_report
from decensor.report.writer import write_report

__all__ = ["build_report", "write_report"]
