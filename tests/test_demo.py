"""The end-to-end demo on the real offline Qwen model, in its few-minute --quick form."""

import json
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_quick_demo_runs_end_to_end_and_a_rerun_skips_every_stage(demo_model_dir, tmp_path):
    run_dir = tmp_path / "demo"
    cmd = [sys.executable, "-m", "decensor", "demo", "--quick", "--run-dir", str(run_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in ("fetch", "eval-base", "mine", "sft", "dpo", "eval-tuned", "report"):
        assert (run_dir / "stages" / f"{stage}.json").exists(), stage
    assert (run_dir / "dpo" / "adapter_model.safetensors").exists()
    html = (run_dir / "report" / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert (run_dir / "hub-dry-run" / "README.md").exists()
    headline = json.loads((run_dir / "headline.json").read_text())
    assert "harmful_refusal_rate" in headline["comparison"]

    start = time.monotonic()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("skipped") == 7
    assert time.monotonic() - start < 120
