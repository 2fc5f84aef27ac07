"""Fault tests for training (issue 12): bad data, bad recipes, destructive overwrites, tokens, and kills.

Each case replays what a careless or hostile user did and checks what they now get: an error naming
file:line:field, a refusal that touches nothing, or a resume that repeats no finished work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decensor.data.jsonl import DataError
from decensor.errors import UserError
from train_helpers import data_row, start_until, tiny_recipe, write_data, write_rows

TOKEN = "hf_FaultTestSecretToken0123456789abcdef"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("fault-data"))


def run(recipe, *args, **overrides):
    from decensor.train import run_recipe

    return run_recipe(recipe, list(args), overrides or None)


# --- data the loader must refuse, never train on or drop --------------------------------------------------
@pytest.mark.parametrize("case, row, field", [
    ("empty answer", data_row(1, "sft", answer="   "), "messages"),
    ("reversed roles", data_row(1, "sft", messages=[{"role": "assistant", "content": "On 3-4 June 1989 ..."},
                                                     {"role": "user", "content": "What happened?"}]), "messages"),
    ("empty chosen", data_row(1, "dpo", answer=""), "chosen"),
])
def test_loader_refuses_bad_rows_with_file_line_field(tmp_path, case, row, field):
    from decensor.data.loading import DataArguments, load_dataset_for

    stage = "dpo" if "chosen" in row else "sft"
    good = [data_row(i, stage) for i in (0, 2, 3)]
    path = write_rows(tmp_path / f"{stage}.jsonl", good[:2] + [row] + good[2:])
    with pytest.raises(DataError) as err:
        load_dataset_for(stage, DataArguments(dataset=[str(path)]))
    assert str(err.value).startswith(f"{path}:3: {field}"), (case, str(err.value))


def test_loader_refuses_an_empty_file(tmp_path, data):
    from decensor.data.loading import DataArguments, load_dataset_for

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{empty}: empty file"):
        load_dataset_for("sft", DataArguments(dataset=[str(data[0]), str(empty)]))


def test_line_separator_inside_an_answer_is_content(tmp_path):
    """U+2028 (and U+2029, U+0085) inside a JSON string do not split a JSONL line."""
    from decensor.data.loading import DataArguments, load_dataset_for

    answer = data_row(0, "sft")["messages"][-1]["content"].replace("; ", ";\u2028", 1) + "\u2029 End.\u0085"
    path = write_rows(tmp_path / "sft.jsonl", [data_row(0, "sft", answer=answer), data_row(1, "sft")])
    ds = load_dataset_for("sft", DataArguments(dataset=[str(path)])).train
    assert len(ds) == 2
    assert answer in [r["messages"][-1]["content"] for r in ds]


def test_invalid_utf8_data_names_file_and_line(tmp_path):
    from decensor.data.loading import DataArguments, load_dataset_for

    path = write_rows(tmp_path / "sft.jsonl", [data_row(0, "sft"), data_row(1, "sft")])
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace("台湾".encode(), b"\xff\xfe", 1)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=rf"^{path}:2: .*UTF-8"):
        load_dataset_for("sft", DataArguments(dataset=[str(path)]))


# --- recipe values ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_steps", [0, -5])
def test_max_steps_out_of_range_is_refused_before_training(tiny_model_dir, data, tmp_path, max_steps):
    """Before: max_steps=-5 trained 381 steps and max_steps=0 trained one. Now: file:line:key, nothing written."""
    from decensor.train.config import RecipeError

    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=max_steps)
    line = next(i for i, text in enumerate(recipe.read_text().splitlines(), 1) if text.startswith("max_steps"))
    with pytest.raises(RecipeError, match=rf"^{recipe}:{line}:max_steps: {max_steps} is out of range"):
        run(recipe)
    with pytest.raises(RecipeError, match=rf"^command line:max_steps: {max_steps} is out of range"):
        run(tiny_recipe(tmp_path / "ok.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run"),
            "--max_steps", str(max_steps))
    assert not (tmp_path / "run").exists()


# --- --overwrite removes only what decensor wrote ---------------------------------------------------------
def test_overwrite_refuses_a_folder_decensor_did_not_write(tiny_model_dir, data, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    (precious / "run_complete.json").write_text("{}")      # looks like a run, but no decensor marker
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], precious,
                         max_steps=1, save_strategy="no")
    for args in ((), ("--overwrite",)):
        with pytest.raises(UserError, match="holds files decensor did not write"):
            run(recipe, *args)
    assert sorted(p.name for p in precious.iterdir()) == ["chapter1.tex", "run_complete.json"]
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_overwrite_removes_only_run_files(tiny_model_dir, data, tmp_path):
    from decensor.train.run import RUN_MARKER

    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=2, save_steps=1)
    out = run(recipe)
    first = json.loads((out / "run_complete.json").read_text())
    (out / "my-notes.txt").write_text("keep me")             # the user's file, added after the run
    out = run(recipe, "--overwrite", "--max_steps", "1")
    assert (out / "my-notes.txt").read_text() == "keep me"
    done = json.loads((out / "run_complete.json").read_text())
    assert done["global_step"] == 1 and done["finished_at"] >= first["finished_at"]
    assert not (out / "checkpoint-2").exists()               # the old run's checkpoints went
    assert (out / RUN_MARKER).exists() and "my-notes.txt" not in done["files"]


def test_output_dir_that_is_a_file(tiny_model_dir, data, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("not a folder")
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], target)
    with pytest.raises(UserError, match="output_dir: .*is a file, not a folder"):
        run(recipe)
    assert target.read_text() == "not a folder"


# --- tokens never reach a run folder ----------------------------------------------------------------------
def test_tokens_in_a_recipe_are_not_written(tiny_model_dir, data, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=2, save_steps=1, hub_token=TOKEN, env={"HF_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"})
    with caplog.at_level("WARNING", logger="decensor.train"):
        out = run(recipe)
    assert any("credential" in r.getMessage() and "hub_token" in r.getMessage() for r in caplog.records)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "training_args.bin" for p in files)   # the pickled training config is checked too
    leaked = [str(p) for p in files if TOKEN.encode() in p.read_bytes()]
    assert leaked == []
    assert "<redacted>" in (out / "recipe.yaml").read_text()


# --- mixing weights ---------------------------------------------------------------------------------------
def test_mix_key_that_matches_nothing_is_an_error(tiny_model_dir, data, tmp_path):
    from decensor.train.config import RecipeError

    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         mix={"harmful-refusl": 3})
    line = next(i for i, text in enumerate(recipe.read_text().splitlines(), 1) if text.startswith("mix"))
    with pytest.raises(RecipeError, match=rf"^{recipe}:{line}:mix: harmful-refusl matches no row"):
        run(recipe)


# --- kills: resume repeats no finished work and corrupts no file -------------------------------------------
def _logged_steps(out: Path) -> list[int]:
    return [r["step"] for r in json.loads((out / "log_history.json").read_text()) if "loss" in r]


def _all_json_parses(out: Path) -> None:
    for path in out.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def test_sigkill_at_any_moment_then_resume(tiny_model_dir, data, tmp_path):
    """A real SIGKILL from outside while training runs (not at a chosen point), then the same command."""
    from decensor.train import run_recipe

    steps = 40
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=steps, save_steps=3, per_device_train_batch_size=2)
    proc = start_until(["decensor.train", str(recipe)], tmp_path / "run" / "checkpoint-3" / "trainer_state.json")
    time.sleep(0.3)       # somewhere after the first checkpoint: mid-step or mid-save
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(60) == -signal.SIGKILL
    out = tmp_path / "run"
    assert not (out / "run_complete.json").exists()
    checkpoints = sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    assert checkpoints

    out = run_recipe(recipe)
    done = json.loads((out / "run_complete.json").read_text())
    assert done["global_step"] == steps
    resumed = int(done["resumed_from"].split("-")[1])
    assert resumed in checkpoints and resumed >= 3
    logged = _logged_steps(out)
    assert logged == list(range(1, steps + 1))               # every step once: nothing before the checkpoint redone
    _all_json_parses(out)
    assert not list(out.glob(".*.tmp"))


def test_kill_while_saving_a_checkpoint_is_not_resumed_from(tiny_model_dir, data, tmp_path):
    """A checkpoint cut short by a kill (no trainer_state.json, truncated weights) is removed, and the run
    resumes from the last complete one."""
    from decensor.train import run_recipe
    from decensor.train.run import KILL_ENV

    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=6, save_steps=2)
    proc = subprocess.run([sys.executable, "-m", "decensor.train", str(recipe)], capture_output=True, text=True,
                          env=dict(os.environ, **{KILL_ENV: "2"}), timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    out = tmp_path / "run"
    partial = out / "checkpoint-4"
    shutil.copytree(out / "checkpoint-2", partial)           # what a kill during the save of step 4 leaves
    (partial / "trainer_state.json").unlink()
    weights = partial / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    out = run_recipe(recipe)
    done = json.loads((out / "run_complete.json").read_text())
    assert done["resumed_from"] == "checkpoint-2" and done["global_step"] == 6
    assert _logged_steps(out) == [1, 2, 3, 4, 5, 6]
    assert "incomplete" in (out / "train.log").read_text()
    _all_json_parses(out)
