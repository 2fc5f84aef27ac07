"""bench/gpu_smoke.py with tiny shapes on the CPU (--tiny): every phase runs and the JSON has its numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from decensor.paths import REPO_ROOT
from train_helpers import write_data

pytestmark = pytest.mark.slow


def test_gpu_smoke_tiny_on_cpu(tmp_path):
    sft, dpo = write_data(tmp_path / "data")
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "bench/gpu_smoke.py", "--tiny", "--out", str(tmp_path / "smoke"),
                           "--sft-data", str(sft), "--dpo-data", str(dpo)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    report = json.loads((tmp_path / "smoke" / "gpu_smoke.json").read_text())
    phases = report["phases"]
    assert proc.returncode == 0, json.dumps({k: v.get("error") for k, v in phases.items()}) + proc.stderr[-3000:]
    assert set(phases) == {"sft", "dpo", "moe", "generate", "kernels"}
    sft_run = phases["sft"]
    # killed by SIGKILL right after checkpoint-2, then resumed from it to the last step
    assert sft_run["killed_at_step"] == 2 and sft_run["resumed_from"] == "checkpoint-2"
    assert sft_run["global_step"] == 4 and sft_run["tokens_per_s"] > 0
    assert phases["dpo"]["global_step"] == 2 and phases["dpo"]["tokens_per_s"] > 0
    moe = phases["moe"]
    assert moe["expert_parameters"] == ["mlp.experts.down_proj", "mlp.experts.gate_up_proj"]
    assert set(moe["expert_rank"].values()) == {4}
    assert phases["generate"]["new_tokens"] == 4 * 16
    kernels = phases["kernels"]
    assert kernels["baseline"]["tokens_per_s"] > 0 and kernels["ratio"] > 0
    for name in ("sft", "dpo", "moe"):
        assert phases[name]["plan"]["peak_gib"] > 0 and "peak_memory" in phases[name]
    assert report["device"] == "cpu" and report["tiny"] is True
