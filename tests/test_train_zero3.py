"""DeepSpeed ZeRO-3 over 2 CPU processes (gloo) under `accelerate launch`: SFT, then DPO from the SFT adapter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from decensor.paths import DS_CONFIGS_DIR, REPO_ROOT
from train_helpers import outputs_change, tiny_recipe, write_data

pytestmark = pytest.mark.slow


def _launch(recipe, tmp_path):
    accelerate = shutil.which("accelerate") or os.path.join(os.path.dirname(sys.executable), "accelerate")
    env = dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", MASTER_PORT="29517")
    cmd = [accelerate, "launch", "--config_file", str(DS_CONFIGS_DIR / "accelerate" / "zero3-cpu-2proc.yaml"),
           "--main_process_port", "29517", "-m", "decensor.train", str(recipe)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1200)
    (tmp_path / f"{recipe.stem}.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_zero3_sft_then_dpo(tiny_model_dir, tmp_path):
    sft_data, dpo_data = write_data(tmp_path / "data")
    model_dir = tiny_model_dir("qwen2")
    sft = tiny_recipe(tmp_path / "sft.yaml", model_dir, "qwen2", "sft", sft_data, tmp_path / "sft",
                      per_device_train_batch_size=2)
    _launch(sft, tmp_path)
    done = json.loads((tmp_path / "sft" / "run_complete.json").read_text())
    assert done["global_step"] == 4
    assert outputs_change(model_dir, tmp_path / "sft") > 0

    dpo = tiny_recipe(tmp_path / "dpo.yaml", model_dir, "qwen2", "dpo", dpo_data, tmp_path / "dpo",
                      per_device_train_batch_size=2, init_adapter=str(tmp_path / "sft"))
    _launch(dpo, tmp_path)
    assert json.loads((tmp_path / "dpo" / "run_complete.json").read_text())["global_step"] == 4
    assert outputs_change(model_dir, tmp_path / "dpo") > 0


MOE_CASES = [("qwen3-moe", ["q_proj", "v_proj"], "Qwen3MoeSparseMoeBlock", 2),
             ("deepseek-v3", ["q_a_proj", "kv_b_proj", "o_proj"], "DeepseekV3MoE", 1)]


@pytest.mark.parametrize("family,targets,block,blocks", MOE_CASES, ids=[c[0] for c in MOE_CASES])
def test_zero3_trains_moe_with_expert_lora(tiny_model_dir, tmp_path, family, targets, block, blocks):
    """A MoE model under ZeRO-3: MoE blocks registered as leaf modules, LoRA on attention and the routed experts."""
    from peft import PeftConfig

    sft_data, _ = write_data(tmp_path / "data")
    model_dir = tiny_model_dir(family)
    sft = tiny_recipe(tmp_path / "moe.yaml", model_dir, family, "sft", sft_data, tmp_path / "moe",
                      per_device_train_batch_size=2, lora_dropout=0.0, lora_target_modules=targets,
                      lora_target_parameters=["mlp.experts.gate_up_proj:4", "mlp.experts.down_proj:4"])
    _launch(sft, tmp_path)
    out = tmp_path / "moe"
    assert json.loads((out / "run_complete.json").read_text())["global_step"] == 4
    assert f"ZeRO-3 leaf modules: {blocks} x {block}" in (out / "train.log").read_text()
    config = PeftConfig.from_pretrained(str(out))
    assert sorted(config.target_parameters) == ["mlp.experts.down_proj", "mlp.experts.gate_up_proj"]
    assert set(config.rank_pattern.values()) == {4}
    assert outputs_change(model_dir, out) > 0
