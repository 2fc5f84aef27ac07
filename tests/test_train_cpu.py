"""SFT and DPO, LoRA and QLoRA, on tiny qwen2 / qwen3-moe / deepseek-v3 models, in this process (CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from decensor.testing import TINY_FAMILIES
from train_helpers import outputs_change, tiny_recipe, write_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("train-data"))


@pytest.mark.parametrize("quant", ["lora", "qlora"])
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_sft_then_dpo(family, quant, tiny_model_dir, data, tmp_path):
    from decensor.train import run_recipe

    model_dir = tiny_model_dir(family)
    sft_data, dpo_data = data
    extra = {"load_in_4bit": True} if quant == "qlora" else {}
    sft_out = run_recipe(tiny_recipe(tmp_path / "sft.yaml", model_dir, family, "sft", sft_data, tmp_path / "sft",
                                     **extra))
    done = json.loads((sft_out / "run_complete.json").read_text())
    assert done["global_step"] == 4
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer_config.json", "recipe.yaml",
                 "recipe.resolved.yaml", "data_files.json", "versions.json", "loss.csv", "log_history.json",
                 "train.log"):
        assert (sft_out / name).exists(), name
    assert any("chat_template" in p.name for p in sft_out.iterdir()) or \
        "chat_template" in (sft_out / "tokenizer_config.json").read_text()
    assert len((sft_out / "loss.csv").read_text().splitlines()) >= 5
    assert str(sft_data / "a.jsonl") in json.loads((sft_out / "data_files.json").read_text())
    assert outputs_change(model_dir, sft_out) > 0

    dpo_out = run_recipe(tiny_recipe(tmp_path / "dpo.yaml", model_dir, family, "dpo", dpo_data, tmp_path / "dpo",
                                     init_adapter=str(sft_out), beta=0.1, **extra))
    history = json.loads((dpo_out / "log_history.json").read_text())
    assert any("rewards/margins" in row for row in history)
    assert outputs_change(model_dir, dpo_out) > 0


def test_dpo_fresh_adapter_and_loss_type(tiny_model_dir, data, tmp_path):
    from decensor.train import run_recipe

    out = run_recipe(tiny_recipe(tmp_path / "dpo.yaml", tiny_model_dir("qwen2"), "qwen2", "dpo", data[1],
                                 tmp_path / "dpo", loss_type=["ipo"], beta=0.2, max_steps=2))
    assert json.loads((out / "run_complete.json").read_text())["global_step"] == 2
    assert not (out / "ref").exists()   # reference = base with the adapter disabled


def losses(run_dir) -> dict[int, float]:
    """step -> training loss, from the run folder's log_history.json (each step must appear once)."""
    rows = [r for r in json.loads((run_dir / "log_history.json").read_text()) if "loss" in r]
    steps = [r["step"] for r in rows]
    assert len(steps) == len(set(steps)), f"a step was logged twice (work repeated): {steps}"
    return {r["step"]: r["loss"] for r in rows}


def test_killed_run_resumes_on_the_same_loss_curve(tiny_model_dir, data, tmp_path):
    """SIGKILL right after checkpoint-2, resume: the loss curve equals an uninterrupted run's, step by step."""
    from decensor.train import run_recipe
    from decensor.train.run import KILL_ENV

    model_dir = tiny_model_dir("qwen2")
    whole = run_recipe(tiny_recipe(tmp_path / "whole.yaml", model_dir, "qwen2", "sft", data[0], tmp_path / "whole"))
    recipe = tiny_recipe(tmp_path / "sft.yaml", model_dir, "qwen2", "sft", data[0], tmp_path / "run")
    env = dict(os.environ, **{KILL_ENV: "2"})
    proc = subprocess.run([sys.executable, "-m", "decensor.train", str(recipe)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoint-2").is_dir()
    assert not (tmp_path / "run" / "run_complete.json").exists()
    assert sorted(losses(tmp_path / "run")) == [1, 2]

    out = run_recipe(recipe)
    done = json.loads((out / "run_complete.json").read_text())
    assert done["resumed_from"] == "checkpoint-2" and done["global_step"] == 4
    assert "resuming from" in (out / "train.log").read_text()
    resumed, reference = losses(out), losses(whole)
    assert sorted(resumed) == sorted(reference) == [1, 2, 3, 4]
    assert resumed == pytest.approx(reference, rel=1e-4, abs=1e-5)
    assert len(set(reference.values())) > 1   # the curve moves: equal curves are not equal constants


def test_finished_run_is_kept(tiny_model_dir, data, tmp_path):
    from decensor.train import run_recipe
    from decensor.train.run import RunExistsError

    recipe = tiny_recipe(tmp_path / "sft.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=1, save_strategy="no")
    run_recipe(recipe)
    with pytest.raises(RunExistsError, match="--overwrite"):
        run_recipe(recipe)
    proc = subprocess.run([sys.executable, "-m", "decensor.train", str(recipe)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 2 and "holds a finished run" in proc.stderr and "--overwrite" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_merge(tiny_model_dir, data, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from decensor.cli import main
    from decensor.train import run_recipe

    model_dir = tiny_model_dir("qwen2")
    out = run_recipe(tiny_recipe(tmp_path / "sft.yaml", model_dir, "qwen2", "sft", data[0], tmp_path / "sft",
                                 max_steps=2, save_strategy="no"))
    assert main(["merge", str(out), "--out", str(tmp_path / "merged"), "--dtype", "float32"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged", dtype=torch.float32)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tok = AutoTokenizer.from_pretrained(tmp_path / "merged")
    ids = tok("What happened in 1989?", return_tensors="pt")["input_ids"]
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with torch.no_grad():
        expected = PeftModel.from_pretrained(base, str(out))(ids).logits
        got = merged(ids).logits
    assert torch.allclose(expected, got, atol=1e-4)


def test_cli_train(tiny_model_dir, data, tmp_path):
    from decensor.cli import main

    recipe = tiny_recipe(tmp_path / "sft.yaml", tiny_model_dir("qwen3-moe"), "qwen3-moe", "sft", data[0],
                         tmp_path / "run", max_steps=1, save_strategy="no")
    assert main(["train", str(recipe), "--max_steps", "2"]) == 0
    assert json.loads((tmp_path / "run" / "run_complete.json").read_text())["global_step"] == 2
    assert main(["train", str(recipe)]) == 2


def test_mixing_weights_by_kind_and_file(data, tmp_path):
    """Oversample a kind and thin out a file, deterministically for a seed (issue 15: mixing weights)."""
    from collections import Counter

    from decensor.data.loading import DataArguments, load_dataset_for
    from train_helpers import data_row, write_rows

    extra = write_rows(tmp_path / "extra.jsonl", [data_row(i, "sft") for i in range(100, 110)])
    args = DataArguments(dataset=[str(data[0]), str(extra)], mix={"innocent": 2.5, "extra.jsonl": 0.5})
    first = load_dataset_for("sft", args, seed=1)
    plain = load_dataset_for("sft", DataArguments(dataset=args.dataset), seed=1).train
    before = Counter(zip(plain["kind"], plain["data_file"]))
    after = Counter(zip(first.train["kind"], first.train["data_file"]))
    a, b = str(data[0] / "a.jsonl"), str(extra)
    assert after[("sensitive", a)] == before[("sensitive", a)]                       # weight 1
    assert after[("innocent", a)] == 2 * before[("innocent", a)] + round(0.5 * before[("innocent", a)])
    assert after[("sensitive", b)] == round(0.5 * before[("sensitive", b)])
    assert after[("innocent", b)] == round(1.25 * before[("innocent", b)])            # 2.5 x 0.5
    assert first.mixture["rows_after"] == len(first.train) == sum(after.values())
    assert first.mixture["by_kind_after"]["innocent"] == after[("innocent", a)] + after[("innocent", b)]
    again = load_dataset_for("sft", args, seed=1).train
    assert again["id"] == first.train["id"]                                           # deterministic
    assert load_dataset_for("sft", args, seed=2).train["id"] != first.train["id"]


def test_mixture_is_recorded_in_the_run_folder(tiny_model_dir, data, tmp_path):
    import yaml

    from decensor.train import run_recipe

    out = run_recipe(tiny_recipe(tmp_path / "sft.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0],
                                 tmp_path / "run", max_steps=1, save_strategy="no"), ["--mix", '{"innocent": 3}'])
    mixture = json.loads((out / "mixture.json").read_text())
    assert mixture["weights"] == {"innocent": 3} and mixture["by_kind_after"]["innocent"] == 3 * 5
    resolved = yaml.safe_load((out / "recipe.resolved.yaml").read_text())
    assert resolved["mix"] == {"innocent": 3} and resolved["mixture"]["rows_after"] == mixture["rows_after"]
