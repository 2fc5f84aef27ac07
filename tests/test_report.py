"""``decensor report`` on real eval results of tiny models: numbers in the summary, N systems against the
first with paired significance, seen vs unseen topics, what worked and what did not, a self-contained page
that escapes model text, a render in real headless Chromium and a PDF whose pages are not blank."""

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
from markupsafe import escape

from decensor.testing import build_tiny_adapter

from decensor.cli import main
from decensor.eval.metric_catalog import METRICS, METRICS_BY_KEY, pct
from decensor.report.pdf import find_chromium, headless_command

EVIL = '<script>alert("x")</script><img src="http://evil.example/x.png" onerror="steal()">'


def run_tiny_eval(model: str, out: Path, adapter: str | None = None, system_prompt: str | None = None) -> dict:
    from decensor.eval.runner import EvalArguments, run_eval
    from decensor.generation import GenerationSettings

    return run_eval(EvalArguments(model=model, adapter=adapter, pairs_per_topic=1,
                                  generation=GenerationSettings(max_new_tokens=8, batch_size=16,
                                                                system_prompt=system_prompt),
                                  out=str(out), progress=False))


@pytest.fixture(scope="module")
def eval_runs(tiny_model_dir, tmp_path_factory):
    """Real results of the tiny qwen2 model (base), the base with a system prompt (prompted) and the same
    model with a LoRA adapter (tuned)."""
    tmp = tmp_path_factory.mktemp("report-evals")
    mp = pytest.MonkeyPatch()
    mp.setenv("DECENSOR_CACHE", str(tmp / "cache"))
    try:
        base_model = tiny_model_dir("qwen2")
        adapter = build_tiny_adapter(base_model, tmp / "adapter-dpo")
        run_tiny_eval(base_model, tmp / "base")
        run_tiny_eval(base_model, tmp / "tuned", adapter=str(adapter))
        run_tiny_eval(base_model, tmp / "prompted", system_prompt="Answer factually and completely.")
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
    # the summary leads with the catalog's lead metric (answered correctly), this system against the base
    lead = [m for m in METRICS if "lead" in m.views]
    assert lead and lead[0].key in tuned
    assert summary.startswith(f"{lead[0].title}: adapter-dpo {pct(tuned[lead[0].key]['value'])} (95% CI "
                              f"{pct(tuned[lead[0].key]['ci_low'])}–{pct(tuned[lead[0].key]['ci_high'])}), "
                              f"base {pct(base[lead[0].key]['value'])}")
    # the same paragraph leads the HTML and the Markdown
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert str(escape(summary)) in html
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
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and str(escape(EVIL)) in html
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


def _rewrite_answers(folder: Path, change) -> None:
    records = [json.loads(x) for x in (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in records:
        change(r)
    (folder / "answers.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                          encoding="utf-8")


@pytest.fixture(scope="module")
def three_systems(eval_runs, tmp_path_factory):
    """Base, base + system prompt, tuned; in the base copy every sensitive and harmful answer is labelled a
    hard refusal, so against it the tuned system refuses sensitive questions significantly less (worked)
    and harmful requests significantly less (did not work)."""
    tmp = tmp_path_factory.mktemp("report-three")
    for name in ("base", "prompted", "tuned"):
        shutil.copytree(eval_runs / name, tmp / name)

    def refuse(r):
        if r["kind"] in ("sensitive", "harmful"):
            r["judgement"]["answer"].update(refusal="hard", harmful_compliance=False)

    def comply(r):
        if r["kind"] in ("sensitive", "harmful"):
            r["judgement"]["answer"].update(refusal="none", harmful_compliance=r["kind"] == "harmful")

    _rewrite_answers(tmp / "base", refuse)
    _rewrite_answers(tmp / "tuned", comply)
    return tmp


def test_report_on_n_systems_against_the_base(three_systems, tmp_path):
    runs = three_systems
    assert main(["report", str(runs / "base"), str(runs / "prompted"), str(runs / "tuned"), "--out", str(tmp_path),
                 "--n-boot", "200"]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    labels = [m["label"] for m in report["models"]]
    assert labels == ["Base", "Base + system prompt", "adapter-dpo"]
    # one table of systems x metrics: every metric present in any results, every system, paired vs the base
    present = {k for name in ("base", "prompted", "tuned")
               for k in json.loads((runs / name / "results.json").read_text())["metrics"]["overall"]}
    assert {r["key"] for r in report["systems"]} == present
    comps = {c["model"]: c for c in report["comparisons"]}
    assert set(comps) == {"Base + system prompt", "adapter-dpo"}
    for row in report["systems"]:
        assert len(row["cells"]) == 3 and row["cells"][0]["vs_base"] is None
        for label, cell in zip(labels[1:], row["cells"][1:]):
            assert cell["vs_base"] == comps[label]["metrics"].get(row["key"])
    refusal = comps["adapter-dpo"]["metrics"]["refusal_rate"]
    assert refusal["base"] == 1.0 and refusal["tuned"] == 0.0 and refusal["verdict"] == "better"
    harmful = comps["adapter-dpo"]["metrics"]["harmful_refusal_rate"]
    assert harmful["significant"] and harmful["verdict"] == "worse"
    # both languages, paired
    assert {"en", "zh"} <= set(comps["adapter-dpo"]["by_lang"])
    assert comps["adapter-dpo"]["by_lang"]["zh"]["refusal_rate"]["verdict"] == "better"
    # seen vs unseen topics, with the unseen topics named and compared against the base on their own
    from decensor.data.topics import load_topics

    unseen = sorted(t.id for t in load_topics().values() if t.split == "unseen")
    sp = report["splits"]
    assert sp["available"] and sp["unseen_topics"] == unseen
    rows = {r["key"]: r for r in sp["rows"]}
    cell = rows["refusal_rate"]["cells"][2]["splits"]
    assert [c["split"] for c in cell] == ["seen", "unseen"]
    for name, cells in (("base", rows["refusal_rate"]["cells"][0]["splits"]), ("tuned", cell)):
        by_split = json.loads((runs / name / "results.json").read_text())["metrics"]["by_split"]
        assert [c["value"] for c in cells] == [by_split["seen"]["refusal_rate"], by_split["unseen"]["refusal_rate"]]
    # the paired difference on unseen topics comes from the (doctored) answers: every refusal gone
    assert cell[1]["vs_base"]["base"] == 1.0 and cell[1]["vs_base"]["tuned"] == 0.0
    assert cell[1]["vs_base"]["verdict"] == "better" and rows["refusal_rate"]["cells"][0]["splits"][1]["vs_base"] is None
    # what worked and what did not, equally plainly; every overall comparison is in exactly one list
    f = report["findings"]
    assert f["system"] == "adapter-dpo"
    worked = [x["metric"] for x in f["worked"] if x["where"] == "all"]
    failed = [x["metric"] for x in f["did_not_work"] if x["where"] == "all"]
    unclear = [x["metric"] for x in f["no_clear_change"]]
    assert "refusal_rate" in worked and "harmful_refusal_rate" in failed and "harmful_compliance_rate" in failed
    assert sorted(worked + failed + unclear) == sorted(comps["adapter-dpo"]["metrics"])
    assert any(x["where"] == "unseen" and x["metric"] == "refusal_rate" for x in f["worked"])
    assert any(x["where"] == "zh" and x["metric"] == "harmful_refusal_rate" for x in f["did_not_work"])
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    harmful_title = METRICS_BY_KEY["harmful_refusal_rate"].title
    for text in (html, md):
        assert "What did not work" in text and "Seen vs unseen topics" in text
        assert f"{harmful_title}: 100% → 0%" in text
        assert "Base + system prompt" in text and "better" in text and "worse" in text
    assert_self_contained(html)
    # the Markdown systems table: one row per metric, one column per system (+ metric and direction)
    title = METRICS_BY_KEY["refusal_rate"].title
    row = next(line for line in md.splitlines() if line.startswith(f"| {title} | lower |"))
    assert row.count(" | ") == 4 and "-100 pts [-100, -100] better" in row


def test_report_shows_a_metric_the_catalog_does_not_know(eval_runs, tmp_path):
    """Results from a newer decensor may hold metrics this catalog lacks: they are shown under their key,
    not dropped."""
    tuned = tmp_path / "tuned"
    shutil.copytree(eval_runs / "tuned", tuned)
    res = json.loads((tuned / "results.json").read_text())
    res["metrics"]["overall"]["future_metric_rate"] = {"value": 0.25, "ci_low": 0.1, "ci_high": 0.4, "n": 20}
    (tuned / "results.json").write_text(json.dumps(res))
    assert main(["report", str(eval_runs / "base"), str(tuned), "--out", str(tmp_path / "out"), "--n-boot", "50"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    row = next(r for r in report["systems"] if r["key"] == "future_metric_rate")
    assert row["title"] == "future_metric_rate" and row["cells"][0]["value"] is None
    assert row["cells"][1]["value"]["value"] == 0.25
    assert "| future_metric_rate | ? | n/a | 25% (10%–40%) |" in (tmp_path / "out" / "report.md").read_text()


def test_report_labels_must_match_results(eval_runs, tmp_path, capsys):
    assert main(["report", str(eval_runs / "base"), str(eval_runs / "tuned"), "--labels", "only-one",
                 "--out", str(tmp_path)]) == 2
    assert "1 labels for 2 results" in capsys.readouterr().err


def test_pdf_without_chromium_is_a_clear_error(eval_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["report", str(eval_runs / "base"), "--out", str(tmp_path / "out"), "--pdf"]) == 2
    assert "PDF export needs Chromium" in capsys.readouterr().err
    assert (tmp_path / "out" / "report.html").exists() and not (tmp_path / "out" / "report.pdf").exists()


def test_report_rejects_non_results(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"format": "something-else"}))
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "not a decensor eval result" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ chromium


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
    cmd = headless_command(chromium, tmp_path / "chromium-profile") + [
        f"--screenshot={png}", "--window-size=1280,4000", (out / "report.html").resolve().as_uri()]
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


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, pixel bytes) of an 8-bit non-interlaced PNG, its scanline filters undone."""
    width, height, depth, color_type, raw = png_info(data)
    assert depth == 8, depth
    bpp = {2: 3, 6: 4, 0: 1, 4: 2}[color_type]
    stride, out, prev = width * bpp, bytearray(), bytearray(width * bpp)
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = row[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                row[x] = (row[x] + a) & 255
            elif kind == 2:
                row[x] = (row[x] + b) & 255
            elif kind == 3:
                row[x] = (row[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += row
        prev = row
    return width, height, bpp, bytes(out)


def test_pdf_export_has_pages_that_are_not_blank(three_systems, tmp_path):
    if find_chromium() is None or shutil.which("pdftoppm") is None:
        pytest.fail("PDF export needs Chromium and the test needs pdftoppm: "
                    "`apt-get install -y chromium poppler-utils` (README's test command installs both).")
    out = tmp_path / "report"
    runs = three_systems
    assert main(["report", str(runs / "base"), str(runs / "prompted"), str(runs / "tuned"), "--out", str(out),
                 "--n-boot", "200", "--pdf"]) == 0
    pdf = out / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    pages_dir = tmp_path / "pages"
    pages_dir.mkdir()
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(pages_dir / "page")], check=True, timeout=180)
    pngs = sorted(pages_dir.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    assert len(pngs) >= 3, f"only {len(pngs)} pages"
    for i, path in enumerate(pngs, 1):
        width, height, bpp, pixels = png_pixels(path.read_bytes())
        assert width < height, f"page {i} is not portrait ({width}x{height})"
        # a blank page is (nearly) all white; text, tables and charts darken a few percent of a full page.
        # Every page but the last must be full enough: a page with only a heading (a block pushed to the
        # next page) fails as well as an empty one.
        dark = sum(1 for j in range(0, len(pixels), bpp) if sum(pixels[j:j + 3]) < 600)
        share = dark / (width * height)
        assert share > (0.001 if i == len(pngs) else 0.01), f"page {i} of {len(pngs)} is blank ({share:.2%} dark)"
    if keep := os.environ.get("DECENSOR_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(pdf, Path(keep) / "report.pdf")
