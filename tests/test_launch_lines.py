"""The launch lines in README.md and recipes/**/README.md parse as written, the multi-node launcher turns
$NUM_MACHINES/$NODE_RANK/$MASTER_ADDR/$MASTER_PORT into accelerate's flags, and a multi-node run refuses an
output_dir the nodes do not share."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from decensor.paths import DS_CONFIGS_DIR, RECIPES_DIR, REPO_ROOT

DOCS = [REPO_ROOT / "README.md", RECIPES_DIR / "README.md", *sorted(RECIPES_DIR.glob("*/README.md"))]
LAUNCHER = DS_CONFIGS_DIR / "launch-multinode.sh"
STARTS = ("accelerate", "decensor", "ds_configs/launch-multinode.sh", "python")


def shell_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks marked bash/sh (or unmarked), fences paired in order."""
    blocks, current, lang = [], None, None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, lang = [], line[3:].strip()
            else:
                if lang in ("", "bash", "sh"):
                    blocks.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def launch_lines() -> list[tuple[str, str]]:
    """(doc, command) for every training/plan command in a fenced code block of the docs."""
    found = []
    for doc in DOCS:
        for block in shell_blocks(doc.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                for command in " ".join(shlex.quote(w) for w in words).split(" '&&' "):
                    tokens = shlex.split(command)
                    while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
                        tokens = tokens[1:]
                    if not tokens or not tokens[0].startswith(STARTS):
                        continue
                    if tokens[:2] in (["decensor", "train"], ["decensor", "plan"]) or tokens[0].startswith(
                            ("accelerate", "ds_configs/")):
                        found.append((doc.relative_to(REPO_ROOT).as_posix(), command))
    return found


LINES = launch_lines()


def _env_and_tokens(command: str) -> tuple[dict[str, str], list[str]]:
    tokens = shlex.split(command)
    env = {}
    while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
        key, value = tokens.pop(0).split("=", 1)
        env[key] = value
    return env, tokens


def _check_recipe(recipe: str, overrides: list[str]):
    from decensor.train.config import load_recipe

    path = REPO_ROOT / recipe
    assert path.is_file(), f"{recipe}: no such recipe"
    return load_recipe(path, overrides, build_training=False)


def _check_accelerate(argv: list[str], where: str) -> None:
    from accelerate.commands.launch import launch_command_parser

    args = launch_command_parser().parse_args(argv)
    config = REPO_ROOT / args.config_file
    assert config.is_file(), f"{where}: {args.config_file} does not exist"
    cfg = yaml.safe_load(config.read_text())
    ds = cfg.get("deepspeed_config", {}).get("deepspeed_config_file")
    assert ds is None or (REPO_ROOT / ds).is_file(), f"{where}: {ds} does not exist"
    machines = args.num_machines or cfg.get("num_machines", 1)
    if machines > 1:
        assert args.machine_rank is not None and args.main_process_ip, (
            f"{where}: a multi-node accelerate line needs --machine_rank and --main_process_ip "
            "(use ds_configs/launch-multinode.sh)")
    assert args.module and args.training_script == "decensor.train", where
    recipe, *overrides = args.training_script_args
    _check_recipe(recipe, overrides)


def _stub_accelerate(tmp_path: Path) -> Path:
    stub = tmp_path / "accelerate"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    stub.chmod(0o755)
    return stub


def _run_launcher(env_vars: dict[str, str], args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NUM_MACHINES", "NODE_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT", "GPUS_PER_NODE")}
    env.update(env_vars, ACCELERATE=str(_stub_accelerate(tmp_path)))
    return subprocess.run(["bash", str(LAUNCHER), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_docs_have_launch_lines():
    kinds = {re.sub(r"\s.*", "", c) for _, c in LINES}
    assert len(LINES) >= 20
    assert any("launch-multinode.sh" in c for _, c in LINES)
    assert any(c.startswith("accelerate launch") for _, c in LINES)
    assert "decensor" in kinds


@pytest.mark.parametrize("doc,command", LINES, ids=[f"{d}:{c[:70]}" for d, c in LINES])
def test_launch_line_parses(doc, command, tmp_path):
    env, tokens = _env_and_tokens(command)
    where = f"{doc}: {command}"
    if tokens[:2] == ["accelerate", "launch"]:
        _check_accelerate(tokens[2:], where)
    elif tokens[0].endswith("launch-multinode.sh"):
        for key in ("NUM_MACHINES", "NODE_RANK", "MASTER_ADDR"):
            assert key in env, f"{where}: set {key}"
        proc = _run_launcher(env, tokens[1:], tmp_path)
        assert proc.returncode == 0, proc.stderr
        argv = json.loads(proc.stdout)
        assert argv[0] == "launch"
        _check_accelerate(argv[1:], where)
    elif tokens[:2] == ["decensor", "train"]:
        _check_recipe(tokens[2], tokens[3:])
    elif tokens[:2] == ["decensor", "plan"]:
        from decensor.cli import build_parser

        args = build_parser().parse_args(tokens[1:])
        for recipe in args.recipes:
            _check_recipe(recipe, [])
    else:
        pytest.fail(f"{where}: not a command this test knows")


def test_launcher_passes_the_node_layout(tmp_path):
    from accelerate.commands.launch import launch_command_parser

    proc = _run_launcher({"NUM_MACHINES": "3", "NODE_RANK": "2", "MASTER_ADDR": "10.1.2.3", "MASTER_PORT": "29611"},
                         ["recipes/deepseek-v3/sft-lora.yaml", "--max_steps", "3"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    args = launch_command_parser().parse_args(json.loads(proc.stdout)[1:])
    assert (args.num_machines, args.num_processes, args.machine_rank) == (3, 24, 2)
    assert (args.main_process_ip, args.main_process_port) == ("10.1.2.3", 29611)
    assert args.training_script_args == ["recipes/deepseek-v3/sft-lora.yaml", "--max_steps", "3"]
    cfg = yaml.safe_load((DS_CONFIGS_DIR / "accelerate" / "zero3-multinode.yaml").read_text())
    assert cfg["deepspeed_config"]["zero3_init_flag"] is True   # bf16 models load sharded


@pytest.mark.parametrize("missing", ["NUM_MACHINES", "NODE_RANK", "MASTER_ADDR"])
def test_launcher_names_a_missing_variable(tmp_path, missing):
    env = {"NUM_MACHINES": "2", "NODE_RANK": "0", "MASTER_ADDR": "10.0.0.1"}
    del env[missing]
    proc = _run_launcher(env, ["recipes/deepseek-v3/sft-lora.yaml"], tmp_path)
    assert proc.returncode != 0 and missing in proc.stderr and proc.stdout == ""
    bad = _run_launcher({"NUM_MACHINES": "2", "NODE_RANK": "2", "MASTER_ADDR": "x"}, ["r.yaml"], tmp_path)
    assert bad.returncode == 2 and "NODE_RANK=2 must be below NUM_MACHINES=2" in bad.stderr


NODE = """
import sys
from pathlib import Path
import torch.distributed as dist
from decensor.train.launch import LaunchError, require_shared_output_dir
dist.init_process_group("gloo")   # what the trainer's set-up has done by the time run.py calls preflight
out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
try:
    require_shared_output_dir(out, timeout_s=3)
    print("SHARED-OK")
except LaunchError as err:
    print("REFUSED", err)
"""


def _two_nodes(dirs: list[Path], port: int) -> list[str]:
    procs = []
    for rank, d in enumerate(dirs):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE="2", LOCAL_WORLD_SIZE="1",
                   GROUP_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", NODE, str(d)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return [p.communicate(timeout=180)[0] for p in procs]


def test_multinode_run_refuses_an_output_dir_the_nodes_do_not_share(tmp_path):
    """Two 'nodes' (one process each, gloo): node-local folders are refused on both, a shared one passes."""
    outs = _two_nodes([tmp_path / "node0-disk" / "run", tmp_path / "node1-disk" / "run"], 29631)
    for rank, out in enumerate(outs):
        assert "REFUSED" in out and "output_dir" in out and "not shared between the 2 nodes" in out, out
        assert f"marker files of node(s) [{1 - rank}]" in out
    outs = _two_nodes([tmp_path / "shared" / "run"] * 2, 29632)
    assert all("SHARED-OK" in out for out in outs), outs
    assert not list((tmp_path / "shared" / "run").glob(".decensor-node-*"))   # markers cleaned up
