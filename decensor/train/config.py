"""A recipe YAML -> the dataclasses one training run needs.

A recipe is one flat YAML mapping (the alignment-handbook / ``trl sft --config`` style). Each key belongs
to one of: :class:`RecipeArguments` (stage, reasoning format, run metadata), our
:class:`~decensor.models.loading.ModelArguments` (TRL ``ModelConfig`` + family / remote-code policy),
:class:`~decensor.data.loading.DataArguments`, and TRL's ``SFTConfig`` or ``DPOConfig`` (which carry all
of ``transformers.TrainingArguments``). A key that several of them define (``trust_remote_code``) is given
to each. A key none of them defines is an error naming the file and the key.

TRL's ``TrlParser`` cannot hold ModelConfig and SFTConfig together (both define ``--trust_remote_code``,
an argparse conflict), so the mapping is done here over the dataclass fields, with the same types.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from decensor.data.loading import DataArguments
from decensor.models.loading import ModelArguments, model_family
from decensor.paths import REPO_ROOT

STAGES = ("sft", "dpo")
REASONING_FORMATS = ("auto", "none", "empty-think", "brief-think")


class RecipeError(ValueError):
    """A recipe that cannot be used, located: ``file: key: message``."""

    def __init__(self, path: str | Path | None, key: str | None, message: str):
        self.path, self.key = (str(path) if path else None), key
        where = ": ".join(str(x) for x in (path, key) if x)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class RecipeArguments:
    """What a recipe says about itself: the stage, the reasoning format and run metadata."""

    stage: str = field(default="sft", metadata={"help": "sft or dpo", "choices": list(STAGES)})
    reasoning_format: str = field(default="auto", metadata={
        "help": "How assistant turns of reasoning families are written: empty-think (an empty <think></think> block), "
                "brief-think (a short honest reasoning), none (non-reasoning families). auto = none for non-reasoning "
                "families, empty-think for reasoning ones."})
    brief_think: str | None = field(default=None, metadata={"help": "Override the brief-think reasoning text."})
    init_adapter: str | None = field(default=None, metadata={
        "help": "DPO: a finished SFT run folder (or adapter folder) to start from. The adapter is loaded and "
                "trained further; a frozen copy of it is the DPO reference model."})
    base_model_id: str | None = field(default=None, metadata={
        "help": "The Hub id the weights come from when model_name_or_path is a local copy or conversion "
                "(for `decensor plan` and model cards)."})
    description: str | None = field(default=None, metadata={"help": "One line: what this run is."})
    hardware: str | None = field(default=None, metadata={"help": "The hardware the recipe was sized for."})
    lora_last_layers: int | None = field(default=None, metadata={
        "help": "Put LoRA only on the last N decoder layers (peft layers_to_transform): the backward pass then "
                "stops at layer L-N, which makes small CPU runs much cheaper."})
    group_by_length: bool = field(default=True, metadata={
        "help": "Without packing (DPO, or SFT with packing off): order examples so each batch has similar lengths."})
    overwrite: bool = field(default=False, metadata={"help": "Replace a finished run in output_dir."})
    resume: bool = field(default=True, metadata={"help": "Resume from the last checkpoint in output_dir."})
    seconds_per_step_hint: float | None = field(default=None, metadata={
        "help": "Measured seconds per optimizer step on the sized hardware (documentation only)."})

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.reasoning_format not in REASONING_FORMATS:
            raise ValueError(f"reasoning_format must be one of {REASONING_FORMATS}, got {self.reasoning_format!r}")


@dataclass
class Recipe:
    """Everything one run needs, plus where it came from."""

    path: str | None
    raw: dict[str, Any]                 # the YAML mapping after overrides, as written
    recipe: RecipeArguments
    model: ModelArguments
    data: DataArguments
    training: Any                       # trl.SFTConfig or trl.DPOConfig (None when not built)
    family: str = ""

    def resolved(self) -> dict[str, Any]:
        """The recipe with derived values filled in, for the run folder."""
        out = dict(self.raw)
        out["stage"] = self.recipe.stage
        out["family"] = self.family
        out["reasoning_format"] = self.recipe.reasoning_format
        out["lora_target_modules"] = self.model.lora_target_modules
        out["dataset"] = self.data.dataset
        if self.model.load_in_4bit:
            out["bnb_4bit_quant_storage"] = self.model.bnb_4bit_quant_storage
        return out


def training_config_class(stage: str):
    from trl import DPOConfig, SFTConfig

    return SFTConfig if stage == "sft" else DPOConfig


def _strip_optional(tp):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return args
    return tp


def _coerce(tp, value, path, key):
    """YAML 1.1 reads ``2e-4`` as a string and overrides arrive as strings: convert to the field's type."""
    if value is None:
        return None
    tp = _strip_optional(tp)
    candidates = tp if isinstance(tp, list) else [tp]
    if isinstance(value, bool) and bool not in candidates and str in candidates:
        return "no" if value is False else "yes"   # YAML 1.1 reads `save_strategy: no` as false
    if isinstance(value, str) and value in ("null", "None", "~") and str not in candidates:
        return None
    if isinstance(value, str) and value[:1] in "[{" and any(typing.get_origin(t) in (list, dict) for t in candidates):
        value = yaml.safe_load(value)
    if isinstance(value, str):
        for t in candidates:
            if t is bool:
                if value.lower() in ("true", "yes", "1", "on"):
                    return True
                if value.lower() in ("false", "no", "0", "off"):
                    return False
            elif t in (int, float):
                try:
                    return t(value)
                except ValueError:
                    continue
            elif t is str:
                return value
        if any(t in (int, float, bool) for t in candidates) and str not in candidates:
            raise RecipeError(path, key, f"expected {'/'.join(getattr(t, '__name__', str(t)) for t in candidates)}, "
                                         f"got {value!r}")
    if typing.get_origin(candidates[0]) is list and not isinstance(value, list):
        return [value]
    return value


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls) if f.init}


def _parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise RecipeError(None, text, "an override is key=value")
    key, value = text.split("=", 1)
    return key.strip().replace("-", "_"), value  # typed by _coerce from the field it lands in


def _expand_datasets(entries: list[str], path) -> list[str]:
    """Keep folders/files/Hub ids; expand globs (``data/dpo/mined-*.jsonl``), dropping globs that match nothing."""
    out: list[str] = []
    for entry in entries:
        if any(c in entry for c in "*?["):
            base = entry if os.path.isabs(entry) else str(REPO_ROOT / entry)
            matches = sorted(glob.glob(entry)) or sorted(glob.glob(base))
            out.extend(m for m in matches if m not in out)
        elif entry not in out:
            out.append(entry)
    if not out:
        raise RecipeError(path, "dataset", f"no data files match {entries}")
    return out


def read_recipe_mapping(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RecipeError(path, None, f"not valid YAML: {err}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(path, None, "a recipe is a YAML mapping of key: value")
    for text in overrides or []:
        key, value = _parse_override(text)
        raw[key] = value
    return raw


def split_recipe(raw: dict[str, Any], path=None) -> tuple[dict, dict, dict, dict]:
    """Split a flat mapping into (recipe, model, data, training) kwargs; unknown keys are an error."""
    stage = raw.get("stage", "sft")
    if stage not in STAGES:
        raise RecipeError(path, "stage", f"must be one of {', '.join(STAGES)}, got {stage!r}")
    classes = [RecipeArguments, ModelArguments, DataArguments, training_config_class(stage)]
    types_ = [_field_types(c) for c in classes]
    parts: list[dict] = [{}, {}, {}, {}]
    env = raw.get("env") or {}
    for key, value in raw.items():
        if key == "env":
            continue
        owners = [i for i, t in enumerate(types_) if key in t]
        if not owners:
            other = "DPOConfig" if stage == "sft" else "SFTConfig"
            hint = f" (it is a {other} key: is `stage` right?)" if key in _field_types(
                training_config_class("dpo" if stage == "sft" else "sft")) else ""
            raise RecipeError(path, key, f"unknown recipe key{hint}")
        for i in owners:
            parts[i][key] = _coerce(types_[i][key], value, path, key)
        if isinstance(value, str):
            coerced = parts[owners[0]][key]
            raw[key] = coerced.value if hasattr(coerced, "value") else coerced  # typed in the saved recipe
    if not isinstance(env, dict):
        raise RecipeError(path, "env", "must be a mapping of environment variables")
    for k, v in env.items():
        os.environ.setdefault(str(k), str(v))
    return tuple(parts)  # type: ignore[return-value]


def peft_remapped_names(model_types) -> set[str]:
    """Target names that peft (>= 0.18, transformers v5) rewrites to the fused routed-expert parameters for
    these model types (e.g. ``gate_proj`` on qwen3_moe / deepseek_v3 -> ``mlp.experts.gate_up_proj``), taking
    them away from dense MLPs and shared experts."""
    try:
        from peft.utils.transformers_weight_conversion import (_MODEL_TO_CONVERSION_PATTERN,
                                                               _MOE_TARGET_MODULE_MAPPING)
    except ImportError:
        return set()
    names: set[str] = set()
    for model_type in model_types:
        names |= set(_MOE_TARGET_MODULE_MAPPING.get(_MODEL_TO_CONVERSION_PATTERN.get(model_type, ""), {}))
    return names


def apply_family_defaults(model: ModelArguments, recipe: RecipeArguments, path=None) -> str:
    """Fill LoRA targets from the registry and resolve the reasoning format; returns the family name."""
    import logging

    try:
        family = model_family(model)
    except KeyError as err:
        raise RecipeError(path, "family", str(err.args[0])) from None
    model.family = family.name
    remapped = peft_remapped_names(family.model_types)
    if model.use_peft and not model.lora_target_modules and not model.lora_target_parameters:
        targets = [t for t in family.lora_target_modules if t not in remapped]
        if len(targets) < len(family.lora_target_modules):
            logging.getLogger(__name__).warning(
                "%s: peft maps %s to the fused routed experts on %s models, so LoRA trains %s only; list "
                "lora_target_parameters (with lora_dropout: 0) to adapt the experts", family.name,
                sorted(set(family.lora_target_modules) & remapped), "/".join(family.model_types), targets)
        model.lora_target_modules = targets
    elif model.use_peft and isinstance(model.lora_target_modules, list):
        clash = sorted(set(model.lora_target_modules) & remapped)
        if clash:
            raise RecipeError(path, "lora_target_modules",
                              f"{clash} would be rewritten by peft to the fused routed-expert parameters of "
                              f"{family.name}; remove them, or use lora_target_parameters to adapt the experts")
    if model.use_peft and model.lora_target_parameters and model.lora_dropout:
        raise RecipeError(path, "lora_dropout", "must be 0 with lora_target_parameters (peft ParamWrapper)")
    if recipe.reasoning_format == "auto":
        recipe.reasoning_format = "none" if family.reasoning == "none" else "empty-think"
    elif family.reasoning == "none" and recipe.reasoning_format != "none":
        raise RecipeError(path, "reasoning_format", f"family {family.name} does not reason; use none")
    return family.name


def maybe_init_distributed() -> None:
    """ZeRO on CPU (gloo) needs deepspeed's process group before TrainingArguments are built."""
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


def load_recipe(path: str | Path | None, overrides: list[str] | None = None, build_training: bool = True,
                raw: dict | None = None) -> Recipe:
    """Parse a recipe file (plus ``key=value`` overrides) into a :class:`Recipe`."""
    if raw is None:
        raw = read_recipe_mapping(path, overrides)
    r_kw, m_kw, d_kw, t_kw = split_recipe(raw, path)
    m_kw.setdefault("use_peft", True)   # decensor trains adapters; `use_peft: false` means full fine-tuning
    try:
        recipe = RecipeArguments(**r_kw)
        model = ModelArguments(**m_kw)
        if "dataset" in d_kw:
            entries = d_kw["dataset"]
            d_kw["dataset"] = _expand_datasets([entries] if isinstance(entries, str) else list(entries), path)
        data = DataArguments(**d_kw)
    except (TypeError, ValueError) as err:
        if isinstance(err, RecipeError):
            raise
        raise RecipeError(path, None, str(err)) from None
    if not model.model_name_or_path:
        raise RecipeError(path, "model_name_or_path", "missing")
    if not data.dataset:
        raise RecipeError(path, "dataset", "missing")
    family = apply_family_defaults(model, recipe, path)
    if recipe.init_adapter and recipe.stage != "dpo":
        raise RecipeError(path, "init_adapter", "only DPO recipes start from an SFT adapter")
    training = None
    if build_training:
        maybe_init_distributed()
        cls = training_config_class(recipe.stage)
        t_kw.setdefault("output_dir", str(Path("runs") / Path(path or "run").stem))
        try:
            training = cls(**t_kw)
        except (TypeError, ValueError) as err:
            raise RecipeError(path, None, f"{cls.__name__}: {err}") from None
    return Recipe(path=str(path) if path else None, raw=raw, recipe=recipe, model=model, data=data,
                  training=training, family=family)
