"""Every shipped recipe parses; a bad key is an error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from decensor.paths import RECIPES_DIR
from decensor.train.config import RecipeError, load_recipe

RECIPES = sorted(RECIPES_DIR.glob("*/*.yaml"))


def test_recipes_exist():
    names = {p.parent.name for p in RECIPES}
    for model in ("qwen2.5-7b-instruct", "qwen2.5-72b-instruct", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b",
                  "deepseek-r1-distill-qwen-32b", "deepseek-v3", "kimi-k2-instruct", "demo-cpu"):
        assert model in names
        assert (RECIPES_DIR / model / "README.md").exists()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_parses(path: Path):
    recipe = load_recipe(path, build_training=False)
    assert recipe.recipe.stage in ("sft", "dpo")
    assert recipe.model.use_peft
    assert recipe.model.lora_target_modules
    assert recipe.data.dataset
    text = path.read_text()
    if path.parent.name != "demo-cpu":
        assert text.startswith("#") and "Sized for" in text
    if recipe.model.trust_remote_code:
        assert recipe.model.model_revision and len(recipe.model.model_revision) == 40


@pytest.mark.parametrize("path", [p for p in RECIPES if p.parent.name in ("qwen2.5-7b-instruct", "demo-cpu")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_builds_training_config(path: Path, tmp_path):
    recipe = load_recipe(path, [f"output_dir={tmp_path}", "use_cpu=true"])
    assert recipe.training.output_dir == str(tmp_path)
    if recipe.recipe.stage == "dpo":
        assert recipe.training.beta > 0


def test_unknown_key_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: sft\nmodel_name_or_path: demo\ndataset: [data/sft]\nlerning_rate: 1.0e-4\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(bad, build_training=False)
    assert str(bad) in str(err.value) and "lerning_rate" in str(err.value)


def test_stage_specific_key_hint(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: sft\nmodel_name_or_path: demo\ndataset: [data/sft]\nbeta: 0.1\n")
    with pytest.raises(RecipeError, match="beta.*DPOConfig"):
        load_recipe(bad, build_training=False)


def test_overrides_are_typed(tmp_path):
    recipe = load_recipe(RECIPES_DIR / "demo-cpu" / "sft.yaml",
                         ["max_steps=7", "learning_rate=1e-4", "save_strategy=no", f"output_dir={tmp_path}",
                          "bf16=false"])
    assert recipe.training.max_steps == 7 and recipe.training.learning_rate == 1e-4
    assert recipe.training.save_strategy == "no" and recipe.training.bf16 is False


def test_family_defaults_and_reasoning(tmp_path):
    r = load_recipe(RECIPES_DIR / "qwen3-8b" / "sft-lora.yaml", build_training=False)
    assert r.family == "qwen3" and r.recipe.reasoning_format == "empty-think"
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: sft\nmodel_name_or_path: Qwen/Qwen2.5-7B-Instruct\ndataset: [data/sft]\n"
                   "reasoning_format: brief-think\n")
    with pytest.raises(RecipeError, match="reasoning_format"):
        load_recipe(bad, build_training=False)


def test_moe_expert_names_are_not_sent_to_peft(tmp_path):
    """peft rewrites gate_proj/up_proj/down_proj on deepseek_v3 to the fused routed experts."""
    r = load_recipe(RECIPES_DIR / "deepseek-v3" / "sft-qlora.yaml", build_training=False)
    assert "gate_proj" not in r.model.lora_target_modules and "q_a_proj" in r.model.lora_target_modules
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: sft\nmodel_name_or_path: deepseek-ai/DeepSeek-V3\ndataset: [data/sft]\n"
                   "lora_target_modules: [q_a_proj, gate_proj]\n")
    with pytest.raises(RecipeError, match="lora_target_modules"):
        load_recipe(bad, build_training=False)
