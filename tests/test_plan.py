"""`decensor plan` numbers are sane."""

from __future__ import annotations

from decensor.paths import RECIPES_DIR
from decensor.train.config import load_recipe
from decensor.train.plan import ARCHS, arch_params, estimate, format_plan, min_gpus, plan_input_from_recipe


def _plan(rel: str):
    return plan_input_from_recipe(load_recipe(RECIPES_DIR / rel, build_training=False))


def test_arch_param_counts_match_registry():
    for model_id, expected in [("Qwen/Qwen2.5-7B-Instruct", 7.6), ("Qwen/Qwen2.5-72B-Instruct", 72.7),
                               ("Qwen/Qwen3-30B-A3B", 30.5), ("Qwen/Qwen3-235B-A22B", 235.1),
                               ("deepseek-ai/DeepSeek-V3", 671.0), ("moonshotai/Kimi-K2-Instruct", 1026.0)]:
        total, _ = arch_params(ARCHS[model_id])
        assert abs(total / 1e9 - expected) / expected < 0.05, (model_id, total / 1e9)


def test_qlora_needs_fewer_gpus_than_lora():
    lora, qlora = _plan("qwen2.5-72b-instruct/sft-lora.yaml"), _plan("qwen2.5-72b-instruct/sft-qlora.yaml")
    assert estimate(qlora, 8).total < estimate(lora, 8).total
    assert min_gpus(qlora, 80) < min_gpus(lora, 80)
    assert estimate(lora, 8).total <= 80  # the recipe's own hardware


def test_671b_needs_many_gpus():
    p = _plan("deepseek-v3/sft-qlora.yaml")
    assert min_gpus(p, 80) >= 5                          # NF4: ~350 GB of weights
    assert estimate(p, 1).total > 300
    assert estimate(p, 16).total <= 80                   # what the recipe was sized for
    p.quant = "bf16"
    assert min_gpus(p, 80) >= 16                         # bf16 LoRA: 1.3 TB of weights


def test_offload_moves_weights_off_gpu_and_more_gpus_help():
    p = _plan("qwen2.5-7b-instruct/sft-lora.yaml")
    assert estimate(p, 8, offload=True).total < estimate(p, 8).total
    assert estimate(p, 8, offload=True).cpu_ram_gib > 10
    assert estimate(p, 8).total < estimate(p, 2).total
    assert min_gpus(p, 80) == 1


def test_every_recipe_fits_its_stated_hardware():
    import re

    for path in sorted(RECIPES_DIR.glob("*/*.yaml")):
        if path.parent.name == "demo-cpu":
            continue
        gpus = int(re.search(r"Sized for (\d+) x 80 GB", path.read_text()).group(1))
        p = plan_input_from_recipe(load_recipe(path, build_training=False))
        assert estimate(p, gpus).total <= 80, path


def test_cli_table(capsys):
    from decensor.cli import main

    assert main(["plan", str(RECIPES_DIR / "qwen2.5-72b-instruct" / "sft-qlora.yaml"), "--gpus", "8",
                 "--gpu-mem", "80"]) == 0
    out = capsys.readouterr().out
    assert "FITS" in out and "minimum GPUs" in out and "weights" in out
    assert "DOES NOT FIT" in format_plan(_plan("deepseek-v3/sft-qlora.yaml"), 2, 80)
