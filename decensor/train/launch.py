"""Checks a training launch makes before the first step: data mined from another model, and, across nodes,
an ``output_dir`` every node can see.

- **Mined pairs belong to their model.** ``decensor data mine --model M`` writes ``data/dpo/mined-<M>.jsonl``:
  M's own censored answers as ``rejected``. They are on-policy for M only; for any other model they are
  someone else's mistakes (the 0.5B demo model's refusals teach a 72B model little and skew its data). A
  recipe whose data includes ``mined-<X>.jsonl`` for X other than its own model is refused.
- **Multi-node runs need a shared output_dir.** Only the global main process writes the adapter, the
  trainer state and ``run_complete.json``, while every process reads ``output_dir`` to resume; on a
  node-local disk the other nodes see no checkpoint and restart from step 0 (or disagree on the step and
  hang). Each node writes a marker into ``output_dir``, and every process checks it sees all of them.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from decensor.errors import UserError

MINED_PREFIX = "mined-"


class LaunchError(UserError):
    """A launch that would train on the wrong data or lose its checkpoints."""


def mined_file_name(model: str) -> str:
    from decensor.data.mine import default_out

    return default_out(model).name


def mined_data_problems(recipe) -> list[str]:
    """One message per mined data file of ``recipe`` that was mined from a different model."""
    from decensor.data.jsonl import jsonl_files
    from decensor.data.loading import _is_hub_id, _resolve

    own = {mined_file_name(m) for m in (recipe.model.model_name_or_path, recipe.recipe.base_model_id) if m}
    local = [s for s in recipe.data.dataset if not _is_hub_id(s)]
    problems = []
    for f in jsonl_files(_resolve(s) for s in local):
        if f.name.startswith(MINED_PREFIX) and f.name not in own:
            mined_from = f.stem[len(MINED_PREFIX):]
            problems.append(f"{f} holds pairs mined from {mined_from}, but this recipe trains "
                            f"{recipe.recipe.base_model_id or recipe.model.model_name_or_path} (mined pairs are "
                            f"on-policy only for their own model)")
    return problems


def check_mined_data(recipe) -> None:
    problems = mined_data_problems(recipe)
    if problems:
        own = mined_file_name(recipe.recipe.base_model_id or recipe.model.model_name_or_path)
        raise LaunchError("; ".join(problems), path=recipe.path, field="dataset",
                          hint=f"list the curated files instead of the folder (data/dpo/sensitive-*.jsonl, ...), "
                               f"or mine this model with `decensor data mine` and add data/dpo/{own}")


def _node_layout() -> tuple[int, int, int]:
    """(world size, processes per node, this node's rank) from the launcher's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    node = int(os.environ.get("GROUP_RANK", os.environ.get("NODE_RANK", "0")))
    return world, local, node


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    else:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def require_shared_output_dir(out: Path, timeout_s: float = 60.0) -> None:
    """On a multi-node run, refuse an ``output_dir`` that is not one shared folder (no-op on one node)."""
    world, local, node = _node_layout()
    if world <= local:
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    nodes = world // local
    marker = out / f".decensor-node-{node}"
    if local_rank == 0:
        marker.write_text(socket.gethostname(), encoding="utf-8")
    _barrier()
    deadline = time.time() + timeout_s
    while True:   # network filesystems can take a moment to show another node's file
        seen = sorted(int(p.name.rsplit("-", 1)[1]) for p in out.glob(".decensor-node-*"))
        if len(seen) >= nodes or time.time() > deadline:
            break
        time.sleep(1.0)
    missing = sorted(set(range(nodes)) - set(seen))
    _barrier()
    if local_rank == 0:
        marker.unlink(missing_ok=True)
    if missing:
        raise LaunchError(
            f"{out} is not shared between the {nodes} nodes: node {node} ({socket.gethostname()}) "
            f"cannot see the marker files of node(s) {missing}; only the main process writes checkpoints and "
            "the adapter, and every node reads them to resume, so a multi-node run needs output_dir on a "
            "filesystem all nodes mount", field="output_dir",
            hint="set output_dir to a path on a shared filesystem (NFS, Lustre, ...)")


def preflight(recipe, out: Path) -> None:
    """Everything :mod:`decensor.train.run` checks before loading the model."""
    check_mined_data(recipe)
    require_shared_output_dir(out)
