"""Every GPU recipe's header is what `decensor plan` computes, every recipe loads on its stated hardware, and
DPO recipes use mined pairs only from their own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from decensor.paths import DATA_DIR, RECIPES_DIR, REPO_ROOT
from decensor.train.config import load_recipe
from decensor.train.launch import LaunchError, check_mined_data, mined_data_problems
from decensor.train.plan import estimate, header_lines, plan_input_from_recipe, recipe_hardware, verdict

RECIPES = sorted(RECIPES_DIR.glob("*/*.yaml"))
GPU_RECIPES = [p for p in RECIPES if p.parent.name != "demo-cpu"]   # demo-cpu runs on 2 CPU cores, no GPU plan
IDS = lambda p: f"{p.parent.name}/{p.name}"  # noqa: E731


def _header(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))]


@pytest.mark.parametrize("path", GPU_RECIPES, ids=IDS)
def test_header_is_plans_output(path: Path):
    recipe = load_recipe(path, build_training=False)
    expected = header_lines(recipe, str(path.relative_to(REPO_ROOT)))
    assert _header(path) == expected, (
        f"{path}: header differs from `decensor plan`; run `decensor plan {path.relative_to(REPO_ROOT)} --write-header`")


@pytest.mark.parametrize("path", GPU_RECIPES, ids=IDS)
def test_recipe_loads_and_trains_on_its_hardware(path: Path):
    recipe = load_recipe(path, build_training=False)
    hw = recipe_hardware(recipe)
    p = plan_input_from_recipe(recipe)
    v = verdict(p, hw)
    assert v.fits, f"{path}: {v.text}"
    est = estimate(p, hw.gpus, gpus_per_node=hw.gpus_per_node)
    assert est.load_peak <= hw.gpu_gib and est.total <= hw.gpu_gib
    if p.quant == "nf4":   # whole-model loads per rank: never on a MoE model (experts stay bf16)
        assert not p.arch.experts, f"{path}: QLoRA on a MoE model does not quantize its experts"


def test_no_recipe_for_models_that_cannot_load():
    names = {f"{p.parent.name}/{p.name}" for p in RECIPES}
    for gone in ("qwen3-235b-a22b/sft-qlora.yaml", "deepseek-v3/sft-qlora.yaml", "kimi-k2-instruct/sft-qlora.yaml"):
        assert gone not in names
    for new in ("deepseek-v3/sft-lora.yaml", "deepseek-v3/dpo-lora.yaml", "kimi-k2-instruct/sft-lora.yaml",
                "kimi-k2-instruct/dpo-lora.yaml", "qwen3-30b-a3b/sft-lora-experts.yaml"):
        assert new in names


@pytest.mark.parametrize("path", RECIPES, ids=IDS)
def test_mined_pairs_only_with_their_model(path: Path):
    recipe = load_recipe(path, build_training=False)
    assert mined_data_problems(recipe) == []


def test_dpo_recipes_use_every_curated_file():
    """A new curated DPO file must reach the recipes (they list files, not the folder, to leave mined files out)."""
    curated = {f.resolve() for f in (DATA_DIR / "dpo").glob("*.jsonl") if not f.name.startswith("mined-")}
    for path in GPU_RECIPES:
        recipe = load_recipe(path, build_training=False)
        if recipe.recipe.stage != "dpo":
            continue
        files = {Path(f if Path(f).is_absolute() else REPO_ROOT / f).resolve() for f in recipe.data.dataset}
        assert files == curated, (path, sorted(curated - files), sorted(files - curated))


def test_demo_mined_pairs_refused_for_another_model(tmp_path):
    mined = DATA_DIR / "dpo" / "mined-qwen2.5-coder-0.5b.jsonl"
    if not mined.exists():
        pytest.skip("no mined demo pairs in data/dpo")
    demo = load_recipe(RECIPES_DIR / "demo-cpu" / "dpo.yaml", build_training=False)
    assert mined.resolve() in {p.resolve() for p in _files(demo)}   # the demo trains on its own mined pairs
    check_mined_data(demo)
    text = (RECIPES_DIR / "qwen2.5-7b-instruct" / "dpo-lora.yaml").read_text()
    bad = tmp_path / "dpo.yaml"
    bad.write_text(text.replace("dataset: [data/dpo/harmful-*.jsonl", "dataset: [data/dpo, data/dpo/harmful-*.jsonl"))
    with pytest.raises(LaunchError) as err:
        check_mined_data(load_recipe(bad, build_training=False))
    msg = str(err.value)
    assert str(bad) in msg and "dataset" in msg and "mined from qwen2.5-coder-0.5b" in msg
    assert "Qwen/Qwen2.5-7B-Instruct" in msg and "mined-qwen-qwen2.5-7b-instruct.jsonl" in msg


def _files(recipe):
    from decensor.data.jsonl import jsonl_files
    from decensor.data.loading import _resolve

    return jsonl_files(_resolve(s) for s in recipe.data.dataset)
