"""``decensor report`` on real eval results of tiny models: numbers in the summary, a self-contained page
that escapes model text, and a render in real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from decensor.testing import build_tiny_adapter

from decensor.cli import main
from decensor.report.builder import pct

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
EVIL = '<script>alert("x")</script><img src="http://evil.example/x.png" onerror="steal()">'


def run_tiny_eval(model: str, out: Path, adapter: str | None = None) -> dict:
    from decensor.eval.runner import EvalArguments, run_eval
    from decensor.generation import GenerationSettings

    return run_eval(EvalArguments(model=model, adapter=adapter, pairs_per_topic=1,
                                  generation=GenerationSettings(max_new_tokens=8, batch_size=16), out=str(out),
                                  progress=False))


@pytest.fixture(scope="module")
def eval_runs(tiny_model_dir, tmp_path_factory):
    """Real results of the tiny qwen2 model (base) and the same model with a LoRA adapter (tuned)."""
    tmp = tmp_path_factory.mktemp("report-evals")
    mp = pytest.MonkeyPatch()
    mp.setenv("DECENSOR_CACHE", str(tmp / "cache"))
    try:
        base_model = tiny_model_dir("qwen2")
        adapter = build_tiny_adapter(base_model, tmp / "adapter-dpo")
        run_tiny_eval(base_model, tmp / "base")
        run_tiny_eval(base_model, tmp / "tuned", adapter=str(adapter))
    finally:
        mp.undo()
    return tmp


@pytest.fixture(scope="module")
def doctored_runs(eval_runs, tmp_path_factory):
    """Copies of the real runs with hostile model text, one translation, and capability results."""
    tmp = tmp_path_factory.mktemp("report-doctored")
    base, tuned = tmp / "base", tmp / "tuned"
    shutil.copytree(eval_runs / "base", base)
    shutil.copytree(eval_runs / "tuned", tuned)
    records = [json.loads(x) for x in (base / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in records:
        r["answer"] = EVIL + " " + r["answer"]
        if r["lang"] == "zh" and r["kind"] == "sensitive":
            r["answer_translation"] = "TRANSLATED-IN-THE-DATA"
    (base / "answers.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                        encoding="utf-8")
    res = json.loads((tuned / "results.json").read_text(encoding="utf-8"))
    res["capability"] = {"tasks": {"mmlu": {"metric": "acc", "value": 0.60, "stderr": 0.01},
                                   "gsm8k": {"metric": "exact_match", "value": 0.70, "stderr": 0.01}},
                         "gate": {"passed": False}}
    (tuned / "results.json").write_text(json.dumps(res), encoding="utf-8")
    res = json.loads((base / "results.json").read_text(encoding="utf-8"))
    res["capability"] = {"tasks": {"mmlu": {"metric": "acc", "value": 0.70, "stderr": 0.01},
                                   "gsm8k": {"metric": "exact_match", "value": 0.70, "stderr": 0.01}}, "gate": None}
    (base / "results.json").write_text(json.dumps(res), encoding="utf-8")
    judge_check = tmp / "judge-check.json"
    judge_check.write_text(json.dumps({"n": 120, "labels": {
        "refusal": {"precision": 0.97, "recall": 0.91, "f1": 0.94, "n": 60},
        "official_narrative": {"precision": 0.88, "recall": 0.79, "f1": 0.83, "n": 40}}}))
    return base, tuned, judge_check


@pytest.fixture(scope="module")
def report_dir(eval_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out")
    assert main(["report", str(eval_runs / "base"), str(eval_runs / "tuned" / "results.json"), "--out", str(out),
                 "--title", "Tiny model: before and after"]) == 0
    return out


def test_report_files_and_summary_numbers(report_dir, eval_runs):
    for name in ("report.html", "report.md", "report.json"):
        assert (report_dir / name).stat().st_size > 1000, name
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    base = json.loads((eval_runs / "base" / "results.json").read_text())["metrics"]["overall"]
    tuned = json.loads((eval_runs / "tuned" / "results.json").read_text())["metrics"]["overall"]
    summary = report["summary"]
    b, t = base["refusal_rate"], tuned["refusal_rate"]
    assert f"The base model refused {pct(b['value'])} of {b['n']} sensitive questions" in summary
    assert f"95% CI {pct(b['ci_low'])}–{pct(b['ci_high'])}" in summary
    assert f"refused {pct(t['value'])} ({'95% CI'} {pct(t['ci_low'])}–{pct(t['ci_high'])})" in summary
    assert f"official line in {pct(base['official_narrative_rate']['value'])}" in summary
    assert f"refused {pct(tuned['harmful_refusal_rate']['value'])} of" in summary
    assert "in Chinese" in summary and "in English" in summary
    # the same paragraph leads the HTML and the Markdown
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert summary.replace("'", "&#x27;") in html
    assert summary in md
    assert [m["label"] for m in report["models"]] == ["Base", "adapter-dpo"]
    assert report["comparisons"][0]["metrics"]["refusal_rate"]["n"] == b["n"]
    assert report["examples"] and all(len(i["answers"]) == 2 for ex in report["examples"] for i in ex["items"])
    assert report["capability"] is None and "No general-capability benchmarks" in html


def assert_self_contained(html: str) -> None:
    assert not re.search(r"""(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"<\s*(?:script|link|iframe|object|embed|img)\b", html, re.I)
    assert "@import" not in html and not re.search(r"url\s*\(", html, re.I)


def test_html_is_self_contained_and_escapes_model_text(doctored_runs, tmp_path):
    base, tuned, judge_check = doctored_runs
    assert main(["report", str(base), str(tuned), "--out", str(tmp_path), "--judge-check", str(judge_check)]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<svg" in html and "<style>" in html
    # a translation is shown only where the data has one; otherwise the page says so
    assert "TRANSLATED-IN-THE-DATA" in html and "No translation available." in html
    # capability table with the regression flagged, judge-check precision/recall table
    assert "regression" in html and "0.600" in html
    assert "Precision" in html and "0.97" in html and "0.79" in html
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**REGRESSION**" in md and "TRANSLATED-IN-THE-DATA" in md
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    rows = {r["task"]: r for r in report["capability"]["rows"]}
    assert rows["mmlu"]["regression"] and not rows["gsm8k"]["regression"]


def test_single_model_report(eval_runs, tmp_path):
    assert main(["report", str(eval_runs / "tuned"), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert len(report["models"]) == 1 and report["comparisons"] == []
    assert "after tuning" not in report["summary"] and "The base model refused" in report["summary"]
    assert_self_contained((tmp_path / "report.html").read_text(encoding="utf-8"))


def test_report_rejects_non_results(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"format": "something-else"}))
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "not a decensor eval result" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ chromium


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


def png_info(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(width, height, bit depth, colour type, decompressed scanlines) of a non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif ctype == b"IDAT":
            idat += chunk
        elif ctype == b"IEND":
            break
        pos += 12 + length
    assert header, "PNG without IHDR"
    width, height, depth, color_type, _, _, interlace = header
    assert interlace == 0
    return width, height, depth, color_type, zlib.decompress(idat)


def test_report_renders_in_headless_chromium(doctored_runs, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.fail("Chromium is not installed, so the report cannot be rendered. Install it with "
                    "`sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu; the package is "
                    "`chromium-browser` on some Ubuntu releases).")
    base, tuned, judge_check = doctored_runs
    out = tmp_path / "report"
    assert main(["report", str(base), str(tuned), "--out", str(out), "--judge-check", str(judge_check)]) == 0
    png = tmp_path / "report.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={png}", "--window-size=1280,4000",
           (out / "report.html").resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert png.exists(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    if keep := os.environ.get("DECENSOR_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, Path(keep) / "report.png")
    data = png.read_bytes()
    assert len(data) > 50_000, f"screenshot is only {len(data)} bytes"
    width, height, depth, color_type, raw = png_info(data)
    assert (width, height) == (1280, 4000) and depth == 8
    channels = {2: 3, 6: 4, 0: 1, 4: 2}[color_type]
    stride = width * channels + 1
    assert len(raw) == stride * height
    # A single-colour page filters to rows of (nearly) one byte value; a rendered report has many varied rows.
    varied = sum(len(set(raw[i * stride + 1:(i + 1) * stride])) > 8 for i in range(height))
    assert varied > height * 0.25, f"only {varied} of {height} rows have visible content"
