"""Fault tests for the command line (issue 12): user errors end in one line, Ctrl-C says how to resume.

Before, these cases ended in tracebacks (invalid UTF-8 with no file or line, a missing dataset, Ctrl-C with
140 lines and no hint). Now ``decensor`` prints ``decensor COMMAND: path:line:field: what; what to do``,
exits 2 (130 for Ctrl-C), and shows the traceback only with ``-v``."""

from __future__ import annotations

import json
import signal

import pytest

from decensor.cli import main
from train_helpers import data_row, start_until, tiny_recipe, write_data, write_rows


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("cli-fault-data"))


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(f"decensor {argv[0]}: "), err
    return last


def line_of(path, key: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith(key + ":"))


def test_missing_recipe(capsys, tmp_path):
    msg = one_line_error(capsys, ["train", str(tmp_path / "nope.yaml")])
    assert msg == f"decensor train: {tmp_path / 'nope.yaml'}: no such recipe file; give a recipe YAML such as " \
                  "recipes/demo-cpu/sft.yaml"


def test_invalid_utf8_recipe_names_file_and_line(capsys, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"stage: sft\nmodel_name_or_path: demo\ndescription: caf\xe9\n")
    msg = one_line_error(capsys, ["train", str(path)])
    assert msg == f"decensor train: {path}:3: not valid UTF-8 (byte 0xe9 at column 17); save the file as UTF-8"


def test_bad_values_name_file_line_field(capsys, tiny_model_dir, data, tmp_path):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=-5)
    msg = one_line_error(capsys, ["train", str(recipe)])
    assert msg.startswith(f"decensor train: {recipe}:{line_of(recipe, 'max_steps')}:max_steps: -5 is out of range: "
                          "must be a positive number of steps, or -1")
    msg = one_line_error(capsys, ["train", str(recipe), "--max_steps", "0"])
    assert msg.startswith("decensor train: command line:max_steps: 0 is out of range")
    msg = one_line_error(capsys, ["train", str(recipe), "--max_steps", "3", "--lerning_rate", "1e-4"])
    assert msg.startswith("decensor train: command line:lerning_rate: unknown recipe key;")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("dataset, expected", [
    ("missing.jsonl", "missing.jsonl: no such file or folder"),
    ("typo/folder", "dataset: 'typo/folder' is not a local file or folder, and not a Hub dataset"),
])
def test_missing_dataset(capsys, tiny_model_dir, tmp_path, monkeypatch, dataset, expected):
    monkeypatch.chdir(tmp_path)
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", tmp_path, tmp_path / "run",
                         dataset=[dataset])
    msg = one_line_error(capsys, ["train", str(recipe)])
    assert expected in msg, msg


def test_bad_row_names_file_line_field(capsys, tiny_model_dir, tmp_path):
    data = write_rows(tmp_path / "d" / "sft.jsonl", [data_row(0, "sft"), data_row(1, "sft", answer="")])
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data, tmp_path / "run")
    msg = one_line_error(capsys, ["train", str(recipe)])
    assert msg.startswith(f"decensor train: {data}:2: messages"), msg


def test_output_dir_is_a_file(capsys, tiny_model_dir, data, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("x")
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], target)
    msg = one_line_error(capsys, ["train", str(recipe)])
    assert msg == f"decensor train: {recipe}:{line_of(recipe, 'output_dir')}:output_dir: {target} is a file, not a " \
                  "folder; set output_dir to a folder"


def test_verbose_shows_the_traceback(capsys, tmp_path):
    assert main(["-v", "train", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].endswith("such as recipes/demo-cpu/sft.yaml")


def test_recipe_keys_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "recipes/demo-cpu/sft.yaml", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for key in ("--max_steps", "--lora_r", "--mix", "--reasoning_format", "--dataset"):
        assert key in out


def test_ctrl_c_says_where_the_run_is_and_how_to_resume(tiny_model_dir, data, tmp_path):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir("qwen2"), "qwen2", "sft", data[0], tmp_path / "run",
                         max_steps=400, save_steps=2, per_device_train_batch_size=2)
    argv = ["train", str(recipe), "--logging_steps", "1"]
    proc = start_until(["decensor", *argv], tmp_path / "run" / "checkpoint-2" / "trainer_state.json")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    err = proc.stderr_text()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    assert f"decensor train: interrupted. Saved: {tmp_path / 'run'} (last checkpoint checkpoint-" in err
    resume = f"Resume with: decensor train {recipe} --logging_steps 1"
    assert resume in err

    saved = int(err.split("(last checkpoint checkpoint-", 1)[1].split(";")[0])
    assert main(argv + ["--max_steps", str(saved + 2)]) == 0    # the printed command (shortened here) resumes it
    done = json.loads((tmp_path / "run" / "run_complete.json").read_text())
    assert done["resumed_from"] == f"checkpoint-{saved}" and done["global_step"] == saved + 2


def test_remote_code_in_a_recipe_needs_consent_on_this_command_line(capsys, tiny_model_dir, data, tmp_path):
    """A recipe may ask for remote code, never grant it: refused in one line (with the folder's code hash); the
    hash given on the command line is consent for exactly that code."""
    import shutil

    from decensor.models.remote_code import code_sha256

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir("qwen2"), model)
    marker = tmp_path / "ran.txt"
    (model / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    recipe = tiny_recipe(tmp_path / "r.yaml", str(model), "qwen2", "sft", data[0], tmp_path / "run", max_steps=1,
                         save_strategy="no", trust_remote_code=True)
    msg = one_line_error(capsys, ["train", str(recipe)])
    assert "asks to run its own Python code" in msg and code_sha256(model) in msg
    assert not marker.exists() and not (tmp_path / "run" / "run_complete.json").exists()
    assert main(["train", str(recipe), "--remote-code-sha256", code_sha256(model)]) == 0
    assert (tmp_path / "run" / "run_complete.json").exists()
    assert not marker.exists()   # a native architecture: consent given, and still no file of the folder imported


def test_missing_model(capsys, data, tmp_path):
    recipe = tiny_recipe(tmp_path / "r.yaml", str(tmp_path / "no-model"), "qwen2", "sft", data[0], tmp_path / "run")
    msg = one_line_error(capsys, ["train", str(recipe)])
    assert msg.startswith(f"decensor train: {recipe}:{line_of(recipe, 'model_name_or_path')}:model_name_or_path: "
                          f"cannot load '{tmp_path / 'no-model'}'"), msg
