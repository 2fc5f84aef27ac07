"""PDF export: the HTML report printed by headless Chromium (``--print-to-pdf``), the browser's own
layout and fonts, so the PDF shows exactly what the page shows (print CSS in templates/report.css)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = ("install it with `apt-get install -y chromium` (Debian; `chromium-browser` on some Ubuntu "
                "releases) or put a Chrome/Chromium binary on PATH")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


def headless_command(chromium: str, profile: Path) -> list[str]:
    """Chromium flags for a sandbox-free, offline, one-shot headless run (CI containers run as root)."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}"]


def print_pdf(html: Path, pdf: Path, timeout: int = 180) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium; raises RuntimeError naming what went wrong."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError(f"PDF export needs Chromium, which is not installed: {INSTALL_HINT}")
    pdf = Path(pdf)
    with tempfile.TemporaryDirectory(prefix="decensor-chromium-") as profile:
        cmd = headless_command(chromium, Path(profile)) + [
            "--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", Path(html).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not pdf.exists() or pdf.stat().st_size == 0 or not pdf.read_bytes().startswith(b"%PDF"):
        raise RuntimeError(f"{chromium} did not write {pdf} (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return pdf
