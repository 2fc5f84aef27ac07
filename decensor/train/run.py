"""One training run: process set-up, the run folder, data, model + adapter, resume, and saving.

:func:`run_recipe` is the one entry point: ``decensor train RECIPE [--key value ...]``,
``accelerate launch -m decensor.train RECIPE [--key value ...]`` (each process) and the demo (typed overrides)
all call it. The stage picks the trainer:

- **SFT**: TRL ``SFTTrainer`` with LoRA/QLoRA, loss on the completion (the last assistant turn) only.
  Rows are converted to TRL's prompt/completion format (see ``formatting``), so ``completion_only_loss``
  masks the prompt whatever the family's template; packing (best-fit decreasing, padding-free) keeps
  padding near zero, and without packing batches are grouped by length.
- **DPO**: TRL ``DPOTrainer``; ``beta`` and ``loss_type`` come from the recipe. Reference model, never a
  second copy of the weights: a fresh adapter's reference is the base with the adapter disabled; with
  ``init_adapter: runs/<sft-run>`` the SFT adapter is trained further and TRL keeps a frozen copy of it
  (adapter "ref", saved under ``ref/``) as the reference, so DPO measures preferences against the SFT policy.

A run folder (``output_dir``) holds, besides the trainer's ``checkpoint-*`` folders while it runs:

- ``decensor-run.json``: the marker that decensor made this folder (``--overwrite`` refuses a folder
  without it, and removes only the files a run writes),
- the LoRA adapter (``adapter_model.safetensors`` + ``adapter_config.json``; under ZeRO-3 the trainer
  gathers the shards because ``stage3_gather_16bit_weights_on_model_save`` is on in our DeepSpeed configs),
- the tokenizer with its chat template,
- ``recipe.yaml`` (the recipe as given, after overrides) and ``recipe.resolved.yaml`` (with family, LoRA
  targets, reasoning format and data files filled in); credentials are written as ``<redacted>``,
- ``data_files.json`` (SHA-256 of every data file), ``mixture.json`` (what ``mix`` did), ``versions.json``,
- ``loss.csv`` and ``log_history.json`` (written at every checkpoint and at the end), ``train.log``,
- ``run_complete.json`` once the run finished: a second run into the same folder refuses to start
  unless ``--overwrite``; an unfinished folder resumes from its last complete checkpoint.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from decensor.data.jsonl import write_atomic
from decensor.errors import RunInterrupted, UserError
from decensor.train.config import REDACTED, Recipe, parse_recipe, read_recipe, redact_secrets

logger = logging.getLogger("decensor.train")
metrics_logger = logging.getLogger("decensor.train.metrics")  # train.log only: the console has the trainer's own
metrics_logger.propagate = False

DONE_FILE = "run_complete.json"
RUN_MARKER = "decensor-run.json"
# What a run writes at the top of its folder (besides the tokenizer and adapter files recorded in
# run_complete.json, and checkpoint-* folders).
RUN_FILES = (RUN_MARKER, DONE_FILE, "recipe.yaml", "recipe.resolved.yaml", "data_files.json", "mixture.json",
             "versions.json", "loss.csv", "log_history.json", "train.log", "adapter_model.safetensors",
             "adapter_config.json", "training_args.bin", "ref")
KILL_ENV = "DECENSOR_TRAIN_KILL_AFTER_SAVE"  # tests: SIGKILL this process right after the checkpoint of this step


class RunExistsError(UserError, RuntimeError):
    """output_dir holds a finished run (and --overwrite was not given), or files decensor did not write."""

    def __init__(self, out: Path, message: str, hint: str):
        super().__init__(message, path=out, field="output_dir", hint=hint)


# --- the entry point ------------------------------------------------------------------------------------
def run_recipe(path: str | Path, args: list[str] | None = None, overrides: dict[str, Any] | None = None, *,
               overwrite: bool = False) -> Path:
    """Read a recipe, set up this process, parse, and run the recipe's stage; returns the run folder.

    ``args`` are command-line overrides (``["--max_steps", "5"]``); ``overrides`` are typed values from code
    (``{"max_steps": 5, "dataset": [...]}``); the command line wins over both."""
    source = read_recipe(path, overrides)
    prepare_process(source.env)
    recipe = parse_recipe(source, args)
    if overwrite:
        recipe.recipe.overwrite = True
    if recipe.recipe.stage == "sft":
        from trl import SFTTrainer as trainer_cls

        if recipe.training.completion_only_loss is None:
            recipe.training.completion_only_loss = True
    else:
        from trl import DPOTrainer as trainer_cls
    return train(recipe, trainer_cls)


def prepare_process(env: dict[str, str]) -> None:
    """What must happen before ``TrainingArguments`` set up devices: the recipe's ``env:`` block (a variable
    already set in the shell wins), and, for DeepSpeed on CPU under accelerate, the gloo process group."""
    for key, value in env.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() != "true":
        return
    import torch

    if torch.cuda.is_available():
        return
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import deepspeed
    import torch.distributed as dist

    if not dist.is_initialized():
        deepspeed.init_distributed(dist_backend="gloo")


# --- the run folder -------------------------------------------------------------------------------------
def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("decensor", "torch", "transformers", "trl", "peft", "accelerate", "deepspeed", "bitsandbytes",
                 "datasets", "tokenizers", "safetensors"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def data_files(recipe: Recipe) -> list[Path]:
    from decensor.data.loading import local_data_files

    return local_data_files(recipe.data.dataset)


def is_main_process() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def wait_for_everyone() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def run_files(out: Path) -> list[Path]:
    """The entries of ``out`` that a decensor run wrote: known names, checkpoints, and what the finished run
    recorded in ``run_complete.json``."""
    recorded: list[str] = []
    done = out / DONE_FILE
    if done.is_file():
        try:
            recorded = json.loads(done.read_text(encoding="utf-8")).get("files", [])
        except ValueError:
            recorded = []
    names = set(RUN_FILES) | {n for n in recorded if "/" not in n and n not in ("", ".", "..")}
    return sorted(p for p in out.iterdir() if p.name in names or p.name.startswith("checkpoint-")
                  or (p.name.startswith(".") and p.name.endswith(".tmp")))


def prepare_output_dir(recipe: Recipe) -> Path:
    out = Path(recipe.training.output_dir)
    marker, done = out / RUN_MARKER, out / DONE_FILE
    if out.exists() and not out.is_dir():
        raise recipe.error("output_dir", f"{out} is a file, not a folder", hint="set output_dir to a folder")
    if out.is_dir() and any(out.iterdir()) and not marker.exists():
        raise RunExistsError(out, f"holds files decensor did not write (no {RUN_MARKER}); refusing to train into "
                             "it or to remove anything", hint="set output_dir to a new or empty folder")
    if done.exists() and not recipe.recipe.overwrite:
        raise RunExistsError(out, f"holds a finished run ({DONE_FILE})",
                             hint="pass --overwrite to replace it, or set output_dir to a new folder")
    if recipe.recipe.overwrite and marker.exists() and is_main_process():
        removed = run_files(out)
        logger.warning("--overwrite: removing the run in %s (%d entries decensor wrote)", out, len(removed))
        for entry in removed:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        kept = sorted(p.name for p in out.iterdir())
        if kept:
            logger.warning("--overwrite: kept %s in %s (not written by a decensor run)", ", ".join(kept), out)
    wait_for_everyone()
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            from decensor import __version__

            write_atomic(marker, json.dumps({"decensor": __version__, "stage": recipe.recipe.stage,
                                             "recipe": recipe.path, "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
                                            indent=2))
    wait_for_everyone()
    return out


def setup_file_logging(out: Path) -> None:
    if not is_main_process():
        return
    import transformers

    handler = logging.FileHandler(out / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.setLevel(logging.INFO)
    metrics_logger.addHandler(handler)
    metrics_logger.setLevel(logging.INFO)
    for name in ("decensor", "trl"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    transformers.utils.logging.add_handler(handler)


def keep_secrets_out(recipe: Recipe) -> None:
    """A token in a recipe must not reach the run folder (``training_args.bin`` pickles the training config):
    move ``hub_token`` to ``HF_TOKEN`` for this process, and warn."""
    token = getattr(recipe.training, "hub_token", None)
    if token:
        os.environ.setdefault("HF_TOKEN", token)
        recipe.training.hub_token = None
    _, secrets = redact_secrets({**recipe.raw, "env": recipe.env})
    if secrets:
        logger.warning("%s: %s hold%s a credential; it is written to the run folder as %s. Keep tokens out of "
                       "recipes: set HF_TOKEN in the environment or use `huggingface-cli login`.",
                       recipe.path, ", ".join(secrets), "s" if len(secrets) == 1 else "", REDACTED)


def write_run_metadata(recipe: Recipe, out: Path, mixture: dict | None) -> None:
    if not is_main_process():
        return
    from decensor.data.jsonl import files_sha256

    def dump(mapping: dict) -> str:
        return yaml.safe_dump(redact_secrets(mapping)[0], sort_keys=False, allow_unicode=True)

    given = {**recipe.raw, **({"env": recipe.env} if recipe.env else {})}
    write_atomic(out / "recipe.yaml", dump(given))
    resolved = recipe.resolved()
    resolved["source_recipe"] = recipe.path
    if mixture:
        resolved["mixture"] = {k: mixture[k] for k in ("weights", "seed", "rows_before", "rows_after")}
    write_atomic(out / "recipe.resolved.yaml", dump(resolved))
    write_atomic(out / "data_files.json", json.dumps(files_sha256(data_files(recipe)), indent=2))
    if mixture:
        write_atomic(out / "mixture.json", json.dumps(mixture, indent=2, ensure_ascii=False))
    write_atomic(out / "versions.json", json.dumps(library_versions(), indent=2))


def write_loss_curves(log_history: list[dict], out: Path) -> None:
    write_atomic(out / "log_history.json", json.dumps(log_history, indent=1))
    keys = ["step", "epoch"] + sorted({k for row in log_history for k in row} - {"step", "epoch"})
    tmp = out / ".loss.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for row in log_history:
            writer.writerow({k: row.get(k, "") for k in keys})
    os.replace(tmp, out / "loss.csv")


def _callbacks(out: Path):
    from transformers import TrainerCallback

    class RunFolderCallback(TrainerCallback):
        """Log metrics to train.log, write loss.csv at each checkpoint, and (tests only) die after a checkpoint."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero:
                metrics_logger.info("step %d: %s", state.global_step, json.dumps(logs or {}))

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                write_loss_curves(state.log_history, out)
            kill_at = os.environ.get(KILL_ENV)
            if kill_at and state.global_step >= int(kill_at):
                logging.shutdown()
                os.kill(os.getpid(), signal.SIGKILL)  # as if the machine died: no cleanup, no final save

    return [RunFolderCallback()]


# --- data and model -------------------------------------------------------------------------------------
def load_datasets(recipe: Recipe, tokenizer):
    """Formatted train (and eval) datasets for the recipe's stage, and what the mixing weights did."""
    from decensor.data.loading import load_dataset_for
    from decensor.models.registry import get_family
    from decensor.train.formatting import ChatFormatter, group_by_length

    stage = recipe.recipe.stage
    args = recipe.training
    family = get_family(recipe.family)
    formatter = ChatFormatter(tokenizer, family.reasoning, recipe.recipe.reasoning_format, recipe.recipe.brief_think)
    try:
        data = load_dataset_for(stage, recipe.data, seed=args.seed)
    except UserError as err:
        if err.path is not None or not err.field:
            raise
        raise recipe.error(err.field, err.message, err.hint) from None
    train = formatter.format_dataset(data.train, stage)
    evaluation = formatter.format_dataset(data.evaluation, stage) if data.evaluation is not None else None
    packed = stage == "sft" and (args.packing or args.padding_free)
    if not packed and recipe.recipe.group_by_length:
        # No packing (DPO, or SFT with packing off): batches of similar length keep padding small.
        train = group_by_length(train, tokenizer, args.per_device_train_batch_size, seed=args.seed)
        args.train_sampling_strategy = "sequential"
    mixed = f" (mixed from {data.mixture['rows_before']} rows by {data.mixture['weights']})" if data.mixture else ""
    logger.info("%s data: %d training examples%s%s", stage, len(train),
                f", {len(evaluation)} held out" if evaluation is not None else "", mixed)
    return train, evaluation, data.mixture


def resolve_adapter_dir(recipe: Recipe) -> Path:
    p = Path(recipe.recipe.init_adapter)
    if (p / "adapter_config.json").exists():
        return p
    raise recipe.error("init_adapter", f"{p} has no adapter_config.json",
                       hint="point it at a finished SFT run folder")


def build_model(recipe: Recipe):
    """The base model (4-bit under QLoRA) and the peft config, or a PeftModel when starting from an adapter."""
    from trl import get_peft_config

    from decensor.models.loading import load_model

    model = load_model(recipe.model, for_training=True)
    if recipe.recipe.init_adapter:
        from peft import PeftModel

        adapter = resolve_adapter_dir(recipe)
        logger.info("starting from the adapter in %s (trained further; a frozen copy is the reference)", adapter)
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
        return model, None
    peft_config = get_peft_config(recipe.model)
    if peft_config is not None and recipe.recipe.lora_last_layers:
        layers = model.config.get_text_config().num_hidden_layers
        n = min(recipe.recipe.lora_last_layers, layers)
        peft_config.layers_to_transform = list(range(layers - n, layers))
        logger.info("LoRA on the last %d of %d layers", n, layers)
    return model, peft_config


def _complete(checkpoint: Path) -> bool:
    """A checkpoint is complete once trainer_state.json (written last) parses."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def last_checkpoint(out: Path) -> str | None:
    """The newest complete checkpoint; incomplete ones (a kill during saving) are removed, never resumed from."""
    if not out.is_dir():
        return None
    checkpoints = sorted((p for p in out.glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()),
                         key=lambda p: int(p.name[11:]))
    for checkpoint in reversed(checkpoints):
        if _complete(checkpoint):
            return str(checkpoint)
        if is_main_process():
            logger.warning("removing %s: incomplete (the run was killed while saving it)", checkpoint)
            shutil.rmtree(checkpoint)
    return None


def _interrupted(out: Path, trainer) -> RunInterrupted:
    checkpoint = last_checkpoint(out)
    step = trainer.state.global_step
    if checkpoint:
        saved = f"{out} (last checkpoint {Path(checkpoint).name}; it was at step {step} of {trainer.state.max_steps})"
    else:
        saved = f"{out} (no checkpoint yet: a re-run starts this stage again)"
    return RunInterrupted(saved)


def train(recipe: Recipe, trainer_cls) -> Path:
    """Run one stage end to end; returns the run folder."""
    from decensor.models.loading import load_tokenizer
    from decensor.train.launch import preflight
    from decensor.train.moe import prepare_moe

    started = time.time()
    keep_secrets_out(recipe)
    out = prepare_output_dir(recipe)
    preflight(recipe, out)   # mined data from another model; multi-node output_dir not shared
    not_ours = {p.name for p in out.iterdir()} - {p.name for p in run_files(out)}   # kept by --overwrite
    setup_file_logging(out)
    logger.info("%s run %s: model %s (family %s), reasoning_format %s", recipe.recipe.stage, out,
                recipe.model.model_name_or_path, recipe.family, recipe.recipe.reasoning_format)
    try:
        tokenizer = load_tokenizer(recipe.model)
    except OSError as err:   # transformers: no such folder, no such Hub repo, no access (offline)
        raise recipe.error("model_name_or_path", f"cannot load {recipe.model.model_name_or_path!r}: "
                           f"{(str(err).strip().splitlines() or [type(err).__name__])[0]}",
                           hint="check the path or Hub id (and HF_TOKEN for gated models)") from None
    train_ds, eval_ds, mixture = load_datasets(recipe, tokenizer)
    write_run_metadata(recipe, out, mixture)
    model, peft_config = build_model(recipe)
    peft_config = prepare_moe(model, peft_config, recipe)   # ZeRO-3 leaf MoE blocks, expert LoRA ranks
    trainer = trainer_cls(model=model, args=recipe.training, train_dataset=train_ds, eval_dataset=eval_ds,
                          processing_class=tokenizer, peft_config=peft_config, callbacks=_callbacks(out))
    if is_main_process() and hasattr(trainer.model, "print_trainable_parameters"):
        trainer.model.print_trainable_parameters()
    resume = last_checkpoint(out) if recipe.recipe.resume else None
    if resume:
        logger.info("resuming from %s", resume)
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except KeyboardInterrupt:
        raise _interrupted(out, trainer) from None
    trainer.save_model(str(out))   # adapter (gathered under ZeRO-3) + tokenizer with chat template
    if is_main_process():
        write_loss_curves(trainer.state.log_history, out)
        done = {"stage": recipe.recipe.stage, "global_step": trainer.state.global_step,
                "resumed_from": Path(resume).name if resume else None,
                "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 1),
                "wall_s": round(time.time() - started, 1), "metrics": result.metrics,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "files": sorted({p.name for p in out.iterdir()} - not_ours | {DONE_FILE})}
        write_atomic(out / DONE_FILE, json.dumps(done, indent=2))
        logger.info("finished: %s", json.dumps({k: v for k, v in done.items() if k != "files"}))
    wait_for_everyone()
    return out
