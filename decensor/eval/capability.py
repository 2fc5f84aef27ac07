"""Capability regressions through lm-evaluation-harness (``simple_evaluate`` with HFLM + the peft adapter).

The default task list is the usual one for cluster runs; offline (and in CI) the path runs on our own
local task ``decensor_local_mc`` (eval/capability/*.yaml over a local JSONL file). A regression gate
compares tuned against base per task with a configurable maximum drop.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import yaml

from decensor.paths import EVAL_DIR

logger = logging.getLogger(__name__)

DEFAULT_TASKS = ("mmlu", "gsm8k", "arc_challenge", "hellaswag", "ifeval", "cmmlu", "ceval-valid")
LOCAL_TASK_DIR = EVAL_DIR / "capability"
LOCAL_TASKS = ("decensor_local_mc",)
DEFAULT_MAX_DROP = 0.02
# The metric a task is gated on (first found in its results).
PRIMARY_METRICS = ("acc_norm,none", "acc,none", "exact_match,strict-match", "exact_match,flexible-extract",
                   "prompt_level_strict_acc,none", "acc_norm", "acc", "exact_match")


def _local_task_dir() -> Path:
    """Copy our task YAMLs to a temp folder with absolute data paths (lm-eval resolves them against the cwd)."""
    out = Path(tempfile.mkdtemp(prefix="decensor-lm-eval-tasks-"))
    for src in LOCAL_TASK_DIR.glob("*.yaml"):
        spec = yaml.safe_load(src.read_text(encoding="utf-8"))
        files = spec.get("dataset_kwargs", {}).get("data_files", {})
        for split, name in files.items():
            files[split] = str((LOCAL_TASK_DIR / name).resolve())
        (out / src.name).write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return out


def primary_metric(task_results: dict) -> tuple[str, float, float | None] | None:
    for key in PRIMARY_METRICS:
        if key in task_results and isinstance(task_results[key], (int, float)):
            name = key.split(",")[0]
            stderr = task_results.get(key.replace(name, f"{name}_stderr", 1))
            return name, float(task_results[key]), float(stderr) if isinstance(stderr, (int, float)) else None
    return None


def run_capability(model: str, adapter: str | None = None, tasks: list[str] | None = None,
                   limit: int | float | None = None, batch_size: int = 8, dtype: str = "float32",
                   device: str | None = None, revision: str = "main", trust_remote_code: bool = False) -> dict:
    """Run lm-eval tasks on ``model`` (+ ``adapter``); return {"tasks": {task: {metric, value, stderr}}, ...}."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from decensor.models.loading import check_remote_code_policy, model_arguments, resolve_model_path

    check_remote_code_policy(model_arguments(model, trust_remote_code=trust_remote_code, model_revision=revision))
    tasks = list(tasks or LOCAL_TASKS)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    lm = HFLM(pretrained=resolve_model_path(model), peft=adapter, revision=revision, dtype=dtype,
              batch_size=batch_size, device=device, trust_remote_code=trust_remote_code)
    manager = TaskManager(include_path=str(_local_task_dir()))
    out = simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=limit, log_samples=False,
                          bootstrap_iters=200)
    summary = {}
    for task, res in out["results"].items():
        found = primary_metric(res)
        if found:
            name, value, stderr = found
            summary[task] = {"metric": name, "value": value, "stderr": stderr}
    return {"tasks": summary, "limit": limit, "model": model, "adapter": adapter,
            "lm_eval_version": out.get("lm_eval_version") or _lm_eval_version(),
            "n_samples": {t: v.get("effective", v.get("original")) if isinstance(v, dict) else v
                          for t, v in (out.get("n-samples") or {}).items()}}


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def regression_gate(base: dict, tuned: dict, max_drop: float | dict[str, float] = DEFAULT_MAX_DROP) -> dict:
    """Per task: base, tuned, delta and whether the drop exceeds the allowed maximum."""
    rows, failed = {}, []
    for task, b in base["tasks"].items():
        t = tuned["tasks"].get(task)
        if t is None:
            continue
        allowed = max_drop.get(task, DEFAULT_MAX_DROP) if isinstance(max_drop, dict) else max_drop
        delta = t["value"] - b["value"]
        regressed = delta < -allowed
        rows[task] = {"metric": b["metric"], "base": b["value"], "tuned": t["value"], "delta": delta,
                      "max_drop": allowed, "regressed": regressed}
        if regressed:
            failed.append(task)
    return {"tasks": rows, "passed": not failed, "regressed": failed}
