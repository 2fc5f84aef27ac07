"""Reports for policy readers: one self-contained HTML page, a Markdown twin and the JSON behind them."""

from decensor.report.builder import build_report, write_report

__all__ = ["build_report", "write_report"]
