"""Capability regressions through lm-evaluation-harness (``simple_evaluate`` with HFLM + the peft adapter).

The default task list is the usual one for cluster runs; offline (and in CI) the path runs on our own
local task ``decensor_local_mc`` (eval/capability/*.yaml over a local JSONL file).

``capability_verdict`` is THE capability gate: ``eval compare``, the demo, the report and the model card
all display its result and none computes its own. Rule (``GATE_RULE``): a task regresses when the tuned
score is lower than the base score by more than twice the standard error of the difference
(sqrt(se_base^2 + se_tuned^2), from lm-eval's per-task stderr) AND by more than a stated minimum
(``DEFAULT_MIN_DROP`` = 2 points, or a per-task value). The first condition keeps sampling noise on small
task slices from failing a run; the second keeps a tiny but "significant" drop on a huge benchmark from
failing it. Without a standard error only the minimum applies.
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
DEFAULT_MIN_DROP = 0.02
SE_MULTIPLE = 2.0
GATE_RULE = (f"a task regresses when its score drops by more than {SE_MULTIPLE:g} standard errors of the "
             f"difference and by more than the stated minimum ({100 * DEFAULT_MIN_DROP:g} points unless set per task); "
             "without a standard error only the minimum applies")
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


def _se(task: dict) -> float | None:
    se = task.get("stderr")
    return float(se) if isinstance(se, (int, float)) else None


def capability_verdict(base: dict | None, tuned: dict | None,
                       min_drop: float | dict[str, float] = DEFAULT_MIN_DROP) -> dict | None:
    """Per task present in both: base, tuned, delta, the drop threshold and whether it regressed (see
    ``GATE_RULE``); ``passed`` is False when any task regressed. ``None`` when either side has no
    capability results. ``min_drop`` may be one value or per task (others get ``DEFAULT_MIN_DROP``)."""
    if not base or not tuned or not base.get("tasks") or not tuned.get("tasks"):
        return None
    rows, failed = {}, []
    for task, b in base["tasks"].items():
        t = tuned["tasks"].get(task)
        if t is None or b.get("value") is None or t.get("value") is None:
            continue
        minimum = min_drop.get(task, DEFAULT_MIN_DROP) if isinstance(min_drop, dict) else float(min_drop)
        ses = [_se(b), _se(t)]
        se = (ses[0] ** 2 + ses[1] ** 2) ** 0.5 if None not in ses else None
        threshold = max(minimum, SE_MULTIPLE * se) if se else minimum
        delta = t["value"] - b["value"]
        regressed = delta < -threshold
        rows[task] = {"metric": b.get("metric"), "base": b["value"], "tuned": t["value"], "delta": delta,
                      "se": se, "min_drop": minimum, "threshold": threshold, "regressed": regressed}
        if regressed:
            failed.append(task)
    return {"tasks": rows, "passed": not failed, "regressed": failed, "rule": GATE_RULE}
