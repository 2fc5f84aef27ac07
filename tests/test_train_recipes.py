"""Every shipped recipe parses with TRL's parser; overrides are typed; bad keys and values name file:line:key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from decensor.paths import RECIPES_DIR
from decensor.train.config import RecipeError, load_recipe, read_recipe

RECIPES = sorted(RECIPES_DIR.glob("*/*.yaml"))
HEAD = "stage: sft\nmodel_name_or_path: demo\nfamily: qwen2\ndataset: [data/sft]\n"


def recipe_file(tmp_path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_recipes_exist():
    names = {p.parent.name for p in RECIPES}
    for model in ("qwen2.5-7b-instruct", "qwen2.5-72b-instruct", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b",
                  "deepseek-r1-distill-qwen-32b", "deepseek-v3", "kimi-k2-instruct", "demo-cpu"):
        assert model in names
        assert (RECIPES_DIR / model / "README.md").exists()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_parses(path: Path):
    from decensor.models.remote_code import check_revision

    recipe = load_recipe(path, build_training=False)
    assert recipe.recipe.stage in ("sft", "dpo")
    assert recipe.model.use_peft
    assert recipe.model.lora_target_modules
    assert recipe.data.dataset
    text = path.read_text()
    if path.parent.name != "demo-cpu":
        assert text.startswith("#") and "Sized for" in text
    if recipe.model.trust_remote_code:
        check_revision(recipe.model.model_revision, str(path))   # a real commit, not a placeholder


@pytest.mark.parametrize("revision", ["0" * 40, "deadbeef" * 5, "abc1234", "main", "v1.0", "", None,
                                      "0123456789abcdef0123456789abcdef01234567"[:39]])
def test_placeholder_revisions_are_rejected(revision):
    """A recipe's model_revision must be a real commit: all zeros, repeated patterns, short hashes and branch
    or tag names are refused (the test the old `len == 40` check passed)."""
    from decensor.models.remote_code import RemoteCodePolicyError, check_revision

    with pytest.raises(RemoteCodePolicyError):
        check_revision(revision, "recipe")
    assert check_revision("3e9d3c2e1f8b4a7d6c5b0a9e8f7d6c5b4a3e2f1d", "recipe")   # a real-looking commit passes


@pytest.mark.parametrize("path", [p for p in RECIPES if p.parent.name in ("qwen2.5-7b-instruct", "demo-cpu")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_builds_training_config(path: Path, tmp_path):
    recipe = load_recipe(path, ["--output_dir", str(tmp_path), "--use_cpu", "true", "--bf16", "false"])
    assert recipe.training.output_dir == str(tmp_path)
    assert recipe.training.use_cpu is True
    if recipe.recipe.stage == "dpo":
        assert recipe.training.beta > 0


def test_unknown_key_names_file_line_and_key(tmp_path):
    bad = recipe_file(tmp_path, HEAD + "lerning_rate: 1.0e-4\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(bad, build_training=False)
    assert str(err.value).startswith(f"{bad}:5:lerning_rate: unknown recipe key")
    with pytest.raises(RecipeError, match="^command line:lerning_rate: unknown recipe key"):
        load_recipe(RECIPES_DIR / "demo-cpu" / "sft.yaml", ["--lerning_rate", "1"], build_training=False)


def test_stage_specific_key_hint(tmp_path):
    bad = recipe_file(tmp_path, HEAD + "beta: 0.1\n")
    with pytest.raises(RecipeError, match="beta: unknown recipe key; it is a DPOConfig key"):
        load_recipe(bad, build_training=False)


def test_overrides_are_typed_with_trl_syntax(tmp_path):
    recipe = load_recipe(RECIPES_DIR / "demo-cpu" / "sft.yaml",
                         ["--max_steps", "7", "--learning_rate=1e-4", "--save_strategy", "no", "--bf16", "false",
                          "--lora_target_modules", "q_proj", "v_proj", "seed=3"],
                         overrides={"output_dir": str(tmp_path), "max_steps": 5, "lora_r": 4})
    t = recipe.training
    assert t.max_steps == 7 and t.learning_rate == 1e-4 and t.bf16 is False and t.seed == 3  # command line wins
    assert t.save_strategy == "no" and t.output_dir == str(tmp_path) and recipe.model.lora_r == 4
    assert recipe.model.lora_target_modules == ["q_proj", "v_proj"]
    assert recipe.raw["max_steps"] == 7 and recipe.raw["lora_r"] == 4   # what the run folder's recipe.yaml says
    assert recipe.origin["max_steps"] == ("command line", None)


def test_yaml_values_typed_by_the_parser(tmp_path):
    """YAML 1.1 reads `2e-4` as a string and `no` as false; the parser types both by the field."""
    path = recipe_file(tmp_path, HEAD + f"learning_rate: 2e-4\nsave_strategy: no\nuse_cpu: yes\nbf16: false\n"
                                        f"output_dir: {tmp_path / 'out'}\nloss_type: sigmoid\n".replace(
                                            "loss_type: sigmoid\n", ""))
    recipe = load_recipe(path)
    assert recipe.training.learning_rate == 2e-4 and recipe.training.save_strategy == "no"
    assert recipe.training.use_cpu is True


@pytest.mark.parametrize("text, where, message", [
    ("max_steps: 0\n", "5:max_steps", "out of range"),
    ("max_steps: -5\n", "5:max_steps", "out of range"),
    ("max_steps: abc\n", "5:max_steps", "invalid int value"),
    ("learning_rate: -1.0\n", "5:learning_rate", "out of range"),
    ("lora_dropout: 1.5\n", "5:lora_dropout", "out of range"),
    ("use_cpu: 3\n", "5:use_cpu", "expected true or false"),
    ("save_strategy: sometimes\n", "5:save_strategy", "invalid choice"),
    ("mix: {harmful-refusal: -1}\n", "5:mix", "weight must be a number >= 0"),
    ("max_steps: 2\nmax_steps: 3\n", "6:max_steps", "given twice"),
    ("stage: [sft\n", "", "not valid YAML"),
])
def test_bad_values_name_file_line_and_key(tmp_path, text, where, message):
    path = recipe_file(tmp_path, HEAD + text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path, build_training=False)
    assert str(err.value).startswith(f"{path}:{where}") and message in str(err.value), str(err.value)


@pytest.mark.parametrize("args, message", [
    (["--max_steps", "0"], "command line:max_steps: 0 is out of range"),
    (["--max_steps", "-5"], "command line:max_steps: -5 is out of range"),
    (["--max_steps"], "max_steps: expected one argument"),
    (["--stage", "ppo"], "command line:stage: must be one of sft, dpo"),
    (["max_steps"], "command line: unexpected argument 'max_steps'; overrides are --key value"),
])
def test_bad_command_line_overrides(args, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(RECIPES_DIR / "demo-cpu" / "sft.yaml", args, build_training=False)
    assert message in str(err.value), str(err.value)


def test_dataset_glob_matching_nothing_is_an_error(tmp_path):
    path = recipe_file(tmp_path, "stage: sft\nmodel_name_or_path: demo\ndataset: [data/sft, data/sft/nope-*.jsonl]\n")
    with pytest.raises(RecipeError, match=r":3:dataset: 'data/sft/nope-\*.jsonl' matches no file"):
        load_recipe(path, build_training=False)


def test_parsing_has_no_side_effects_env_is_kept_for_the_run(tmp_path, monkeypatch):
    monkeypatch.delenv("DECENSOR_TEST_ENV_VAR", raising=False)
    path = recipe_file(tmp_path, HEAD + "env:\n  DECENSOR_TEST_ENV_VAR: from-recipe\n")
    source = read_recipe(path)
    recipe = load_recipe(path, build_training=False)
    assert source.env == recipe.env == {"DECENSOR_TEST_ENV_VAR": "from-recipe"}
    assert "DECENSOR_TEST_ENV_VAR" not in os.environ     # the run applies env:, not the parser
    from decensor.train.run import prepare_process

    monkeypatch.setenv("DECENSOR_TEST_ENV_VAR", "from-shell")
    prepare_process(recipe.env)
    assert os.environ["DECENSOR_TEST_ENV_VAR"] == "from-shell"   # the shell wins
    monkeypatch.delenv("DECENSOR_TEST_ENV_VAR")
    prepare_process(recipe.env)
    assert os.environ["DECENSOR_TEST_ENV_VAR"] == "from-recipe"


def test_invalid_utf8_recipe_names_line(tmp_path):
    from decensor.errors import UserError

    path = tmp_path / "r.yaml"
    path.write_bytes(HEAD.encode() + b"description: caf\xe9\n")
    with pytest.raises(UserError, match=r"r.yaml:5: not valid UTF-8 \(byte 0xe9 at column 17\); save the file"):
        load_recipe(path, build_training=False)


def test_family_defaults_and_reasoning(tmp_path):
    r = load_recipe(RECIPES_DIR / "qwen3-8b" / "sft-lora.yaml", build_training=False)
    assert r.family == "qwen3" and r.recipe.reasoning_format == "empty-think"
    bad = recipe_file(tmp_path, "stage: sft\nmodel_name_or_path: Qwen/Qwen2.5-7B-Instruct\ndataset: [data/sft]\n"
                                "reasoning_format: brief-think\n")
    with pytest.raises(RecipeError, match=":4:reasoning_format: family qwen2 does not reason"):
        load_recipe(bad, build_training=False)


def test_moe_expert_names_are_not_sent_to_peft(tmp_path):
    """peft rewrites gate_proj/up_proj/down_proj on deepseek_v3 to the fused routed experts."""
    r = load_recipe(sorted((RECIPES_DIR / "deepseek-v3").glob("sft-*.yaml"))[0], build_training=False)
    assert "gate_proj" not in r.model.lora_target_modules and "q_a_proj" in r.model.lora_target_modules
    bad = recipe_file(tmp_path, "stage: sft\nmodel_name_or_path: deepseek-ai/DeepSeek-V3\ndataset: [data/sft]\n"
                                "lora_target_modules: [q_a_proj, gate_proj]\n")
    with pytest.raises(RecipeError, match="lora_target_modules"):
        load_recipe(bad, build_training=False)


def test_secrets_are_redacted():
    from decensor.train.config import REDACTED, redact_secrets

    out, found = redact_secrets({"hub_token": "hf_abc", "lora_r": 8, "env": {"HF_TOKEN": "hf_x", "OMP": "1"},
                                 "push_to_hub": False})
    assert out == {"hub_token": REDACTED, "lora_r": 8, "env": {"HF_TOKEN": REDACTED, "OMP": "1"}, "push_to_hub": False}
    assert found == ["hub_token", "env.HF_TOKEN"]
