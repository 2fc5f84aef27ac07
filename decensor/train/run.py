"""What SFT and DPO share: the run folder, logging, data, model + adapter set-up, resume, and saving.

A run folder (``output_dir``) holds, besides the trainer's ``checkpoint-*`` folders while it runs:

- the LoRA adapter (``adapter_model.safetensors`` + ``adapter_config.json``; under ZeRO-3 the trainer
  gathers the shards because ``stage3_gather_16bit_weights_on_model_save`` is on in our DeepSpeed configs),
- the tokenizer with its chat template,
- ``recipe.yaml`` (the recipe as given, after overrides) and ``recipe.resolved.yaml`` (with family, LoRA
  targets, reasoning format and data files filled in),
- ``data_files.json`` (SHA-256 of every data file), ``versions.json`` (library versions),
- ``loss.csv`` and ``log_history.json`` (written at every checkpoint and at the end), ``train.log``,
- ``run_complete.json`` once the run finished: a second run into the same folder refuses to start
  unless ``--overwrite``; an unfinished folder resumes from its last checkpoint.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import yaml

from decensor.train.config import Recipe

logger = logging.getLogger("decensor.train")
metrics_logger = logging.getLogger("decensor.train.metrics")  # train.log only: the console has the trainer's own
metrics_logger.propagate = False

DONE_FILE = "run_complete.json"
KILL_ENV = "DECENSOR_TRAIN_KILL_AFTER_SAVE"  # tests: hard-exit right after the checkpoint of this step


class RunExistsError(RuntimeError):
    """output_dir holds a finished run and --overwrite was not given."""


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
    from decensor.data.jsonl import jsonl_files
    from decensor.data.loading import _is_hub_id, _resolve

    return jsonl_files(_resolve(s) for s in recipe.data.dataset if not _is_hub_id(s))


def is_main_process() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def wait_for_everyone() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def prepare_output_dir(recipe: Recipe) -> Path:
    out = Path(recipe.training.output_dir)
    done = out / DONE_FILE
    if done.exists() and not recipe.recipe.overwrite:
        raise RunExistsError(f"{out} holds a finished run ({DONE_FILE}); pass --overwrite to replace it, "
                             f"or set output_dir to a new folder")
    if done.exists() and recipe.recipe.overwrite and is_main_process():
        logger.warning("--overwrite: removing the finished run in %s", out)
        shutil.rmtree(out)
    wait_for_everyone()
    out.mkdir(parents=True, exist_ok=True)
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


def write_run_metadata(recipe: Recipe, out: Path) -> None:
    if not is_main_process():
        return
    from decensor.data.jsonl import files_sha256

    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    resolved = recipe.resolved()
    resolved["source_recipe"] = recipe.path
    (out / "recipe.resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True),
                                              encoding="utf-8")
    files = data_files(recipe)
    (out / "data_files.json").write_text(json.dumps(files_sha256(files), indent=2), encoding="utf-8")
    (out / "versions.json").write_text(json.dumps(library_versions(), indent=2), encoding="utf-8")


def write_loss_curves(log_history: list[dict], out: Path) -> None:
    (out / "log_history.json").write_text(json.dumps(log_history, indent=1), encoding="utf-8")
    keys = ["step", "epoch"] + sorted({k for row in log_history for k in row} - {"step", "epoch"})
    with open(out / "loss.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for row in log_history:
            writer.writerow({k: row.get(k, "") for k in keys})


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
                os._exit(137)  # as if the machine died: no cleanup, no final save

    return [RunFolderCallback()]


def load_datasets(recipe: Recipe, tokenizer):
    """Formatted train (and eval) datasets for the recipe's stage."""
    from decensor.data.loading import load_dataset_for
    from decensor.models.registry import get_family
    from decensor.train.formatting import ChatFormatter, group_by_length

    stage = recipe.recipe.stage
    family = get_family(recipe.family)
    formatter = ChatFormatter(tokenizer, family.reasoning, recipe.recipe.reasoning_format, recipe.recipe.brief_think)
    ds = load_dataset_for(stage, recipe.data)
    train, evaluation = (ds["train"], ds["test"]) if hasattr(ds, "keys") else (ds, None)
    train = formatter.format_dataset(train, stage)
    if evaluation is not None:
        evaluation = formatter.format_dataset(evaluation, stage)
    args = recipe.training
    packed = stage == "sft" and (args.packing or args.padding_free)
    if not packed and recipe.recipe.group_by_length:
        # No packing (DPO, or SFT with packing off): batches of similar length keep padding small.
        train = group_by_length(train, tokenizer, args.per_device_train_batch_size, seed=args.seed)
        args.train_sampling_strategy = "sequential"
    logger.info("%s data: %d training examples%s", stage, len(train),
                f", {len(evaluation)} held out" if evaluation is not None else "")
    return train, evaluation


def resolve_adapter_dir(path: str) -> Path:
    p = Path(path)
    if (p / "adapter_config.json").exists():
        return p
    raise FileNotFoundError(f"init_adapter={path!r}: no adapter_config.json there (is it a finished SFT run?)")


def build_model(recipe: Recipe):
    """The base model (4-bit under QLoRA) and the peft config, or a PeftModel when starting from an adapter."""
    from trl import get_peft_config

    from decensor.models.loading import load_model

    model = load_model(recipe.model, for_training=True)
    if recipe.recipe.init_adapter:
        from peft import PeftModel

        adapter = resolve_adapter_dir(recipe.recipe.init_adapter)
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


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if out.is_dir() else None


def train(recipe: Recipe, trainer_cls) -> Path:
    """Run one stage end to end; returns the run folder."""
    from decensor.models.loading import load_tokenizer
    from decensor.train.moe import prepare_moe

    started = time.time()
    out = prepare_output_dir(recipe)
    setup_file_logging(out)
    write_run_metadata(recipe, out)
    logger.info("%s run %s: model %s (family %s), reasoning_format %s", recipe.recipe.stage, out,
                recipe.model.model_name_or_path, recipe.family, recipe.recipe.reasoning_format)
    tokenizer = load_tokenizer(recipe.model)
    train_ds, eval_ds = load_datasets(recipe, tokenizer)
    model, peft_config = build_model(recipe)
    peft_config = prepare_moe(model, peft_config, recipe)   # ZeRO-3 leaf MoE blocks, expert LoRA ranks
    trainer = trainer_cls(model=model, args=recipe.training, train_dataset=train_ds, eval_dataset=eval_ds,
                          processing_class=tokenizer, peft_config=peft_config, callbacks=_callbacks(out))
    if is_main_process() and hasattr(trainer.model, "print_trainable_parameters"):
        trainer.model.print_trainable_parameters()
    resume = last_checkpoint(out) if recipe.recipe.resume else None
    if resume:
        logger.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(out))   # adapter (gathered under ZeRO-3) + tokenizer with chat template
    if is_main_process():
        write_loss_curves(trainer.state.log_history, out)
        done = {"stage": recipe.recipe.stage, "global_step": trainer.state.global_step,
                "resumed_from": Path(resume).name if resume else None,
                "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 1),
                "wall_s": round(time.time() - started, 1), "metrics": result.metrics,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (out / DONE_FILE).write_text(json.dumps(done, indent=2), encoding="utf-8")
        logger.info("finished: %s", json.dumps(done))
    wait_for_everyone()
    return out
