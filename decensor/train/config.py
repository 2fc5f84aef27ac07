"""A recipe YAML (plus typed overrides) -> the dataclasses one training run needs, parsed by TRL's ``TrlParser``.

A recipe is one flat YAML mapping (the ``trl sft --config`` style) with an optional ``env:`` block. Each key
belongs to one of :class:`RecipeArguments` (stage, reasoning format, run metadata), our
:class:`~decensor.models.loading.ModelArguments` (TRL ``ModelConfig`` + family / remote-code policy),
:class:`~decensor.data.loading.DataArguments` (files, filters, mixing weights) and TRL's ``SFTConfig`` or
``DPOConfig`` (all of ``transformers.TrainingArguments``). ``TrlParser`` builds one argparse parser over
them, so a recipe value and a command-line override are typed the same way: the file's values become the
parser's defaults (``set_defaults_with_config``, what ``--config`` does), then ``--key value`` overrides
are parsed by argparse with each field's type.

We call those two steps rather than ``parse_args_and_config`` because that one also writes the ``env:``
block into ``os.environ`` and builds ``TrainingArguments`` (which sets up devices) while parsing; here
parsing has no side effects: :func:`decensor.train.run.run_recipe` reads the recipe, sets up the process
(``env:``, DeepSpeed's process group), then parses. Errors name the file, line and key
(``recipes/x.yaml:12:max_steps: must be ...``); a key no dataclass defines is an error.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trl import DPOConfig, SFTConfig, TrlParser

from decensor.data.loading import DataArguments
from decensor.errors import UserError, decode_utf8
from decensor.models.loading import ModelArguments, model_family
from decensor.paths import REPO_ROOT

STAGES = ("sft", "dpo")
REASONING_FORMATS = ("auto", "none", "empty-think", "brief-think")
COMMAND_LINE = "command line"
OVERRIDE = "override"
# Keys (recipe or env:) whose values are credentials: never written to a run folder.
SECRET_KEY = re.compile(r"token|secret|password|passwd|api_?key|credential", re.IGNORECASE)
REDACTED = "<redacted>"


class RecipeError(UserError, ValueError):
    """A recipe that cannot be used, located: ``file:line:key: message``."""

    def __init__(self, path: str | Path | None, key: str | None, message: str, line: int | None = None,
                 hint: str | None = None):
        self.key = key
        super().__init__(message, path=str(path) if path else None, line=line, field=key, hint=hint)


@dataclass
class RecipeArguments:
    """What a recipe says about itself: the stage, the reasoning format and run metadata."""

    stage: str = field(default="sft", metadata={"help": "sft or dpo", "choices": list(STAGES)})
    reasoning_format: str = field(default="auto", metadata={
        "help": "How assistant turns of reasoning families are written: empty-think (an empty <think></think> block), "
                "brief-think (a short honest reasoning), none (non-reasoning families). auto = none for non-reasoning "
                "families, empty-think for reasoning ones.", "choices": list(REASONING_FORMATS)})
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
    overwrite: bool = field(default=False, metadata={
        "help": "Replace the run in output_dir (only files decensor wrote there are removed)."})
    resume: bool = field(default=True, metadata={"help": "Resume from the last checkpoint in output_dir."})
    seconds_per_step_hint: float | None = field(default=None, metadata={
        "help": "Measured seconds per optimizer step on the sized hardware (documentation only)."})


@dataclass
class RecipeSource:
    """A recipe file as read, before parsing: its mapping, the line of each key, ``env:`` and typed overrides."""

    path: str | None
    mapping: dict[str, Any]
    lines: dict[str, int]
    env: dict[str, str]
    overrides: dict[str, Any]


@dataclass
class Recipe:
    """Everything one run needs, plus where it came from."""

    path: str | None
    raw: dict[str, Any]                 # the recipe as given (file, then overrides), typed by the parser
    recipe: RecipeArguments
    model: ModelArguments
    data: DataArguments
    training: Any                       # trl.SFTConfig or trl.DPOConfig (None when not built)
    family: str = ""
    env: dict[str, str] = field(default_factory=dict)
    origin: dict[str, tuple[str | None, int | None]] = field(default_factory=dict)  # key -> (file, line)

    def error(self, key: str | None, message: str, hint: str | None = None) -> RecipeError:
        """A :class:`RecipeError` located where ``key`` was given (file and line, or the command line)."""
        where, line = self.origin.get(key, (self.path, None)) if key else (self.path, None)
        return RecipeError(where, key, message, line=line, hint=hint)

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


@dataclass
class SFTArguments(SFTConfig):
    """TRL's ``SFTConfig`` minus ``trust_remote_code``, which :class:`ModelArguments` owns (the trainers get a
    loaded model, so the config's copy is never read, and argparse cannot hold one option twice)."""

    trust_remote_code: bool = field(default=False, init=False, repr=False)


@dataclass
class DPOArguments(DPOConfig):
    """TRL's ``DPOConfig`` minus ``trust_remote_code`` (see :class:`SFTArguments`)."""

    trust_remote_code: bool = field(default=False, init=False, repr=False)


TRAINING_CONFIGS = {"sft": SFTArguments, "dpo": DPOArguments}


def training_config_class(stage: str):
    return TRAINING_CONFIGS[stage]


def _argument_classes(stage: str) -> list[type]:
    return [RecipeArguments, ModelArguments, DataArguments, training_config_class(stage)]


class _RaisingTrlParser(TrlParser):
    """``TrlParser`` whose argparse errors raise instead of printing usage and exiting."""

    def error(self, message):  # argparse errors that are not ArgumentError (e.g. a missing value)
        raise RecipeError(COMMAND_LINE, None, message)


class RecipeParser:
    """``TrlParser`` over our dataclasses for one stage, with each key's argparse action."""

    def __init__(self, stage: str):
        self.parser = _RaisingTrlParser(_argument_classes(stage), prog="decensor train RECIPE", exit_on_error=False,
                                        allow_abbrev=False)
        self.actions = {a.dest: a for a in self.parser._actions if a.dest != "help"}

    def key_of(self, argument_name: str | None) -> str | None:
        if not argument_name:
            return None
        option = argument_name.split("/")[0]
        action = self.parser._option_string_actions.get(option)
        return action.dest if action else option.lstrip("-")


def _yaml_loader():
    """SafeLoader with YAML 1.2 booleans: only true/false, so ``save_strategy: no`` stays the string "no"."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:bool"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
    return Loader


def read_recipe(path: str | Path | None, overrides: dict[str, Any] | None = None) -> RecipeSource:
    """Read a recipe file (no side effects): its mapping, the line of each key, ``env:`` and typed overrides."""
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise RecipeError(path, None, "no such recipe file" if not path.exists() else "not a file",
                              hint="give a recipe YAML such as recipes/demo-cpu/sft.yaml")
        text = decode_utf8(path.read_bytes(), path)
        loader = _yaml_loader()
        try:
            node = yaml.compose(text, Loader=loader)
            mapping = yaml.load(text, Loader=loader)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise RecipeError(path, None, f"not valid YAML: {getattr(err, 'problem', None) or err}",
                              line=mark.line + 1 if mark else None) from None
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, dict) or not isinstance(node, yaml.MappingNode):
            raise RecipeError(path, None, "a recipe is a YAML mapping of key: value")
        for key_node, _ in node.value:
            key = key_node.value
            if key in lines:
                raise RecipeError(path, key, f"given twice (lines {lines[key]} and {key_node.start_mark.line + 1})",
                                  line=key_node.start_mark.line + 1)
            lines[key] = key_node.start_mark.line + 1
    env = mapping.pop("env", None) or {}
    if not isinstance(env, dict) or any(isinstance(v, (dict, list)) for v in env.values()):
        raise RecipeError(path, "env", "must be a mapping of environment variable names to values",
                          line=lines.get("env"))
    return RecipeSource(path=str(path) if path is not None else None, mapping=mapping, lines=lines,
                        env={str(k): str(v) for k, v in env.items()}, overrides=dict(overrides or {}))


def _cli_tokens(args: list[str] | None) -> list[str]:
    """``--key value`` / ``--key=value`` as TRL takes them; a bare ``key=value`` is read as ``--key=value``."""
    out = []
    for token in args or []:
        if not token.startswith("-") and re.match(r"^[A-Za-z_][\w-]*=", token):
            token = "--" + token
        out.append(token)
    return out


def _given_on_command_line(parser: RecipeParser, tokens: list[str]) -> list[str]:
    keys = []
    for token in tokens:
        if token.startswith("--"):
            action = parser.parser._option_string_actions.get(token.split("=", 1)[0])
            if action is not None and action.dest not in keys:
                keys.append(action.dest)
    return keys


def _stage_of(source: RecipeSource, tokens: list[str]) -> str:
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--stage")
    given, _ = peek.parse_known_args(tokens)
    stage = given.stage or source.overrides.get("stage") or source.mapping.get("stage") or "sft"
    if stage not in STAGES:
        where = COMMAND_LINE if given.stage else source.path
        raise RecipeError(where, "stage", f"must be one of {', '.join(STAGES)}, got {stage!r}",
                          line=None if given.stage else source.lines.get("stage"))
    return stage


def _check_value_type(action, value) -> str | None:
    """A value from the file or code, which argparse neither checks against choices nor converts unless it is a
    string: is it of the field's type?"""
    if action.choices is not None and value is not None:
        converted = action.type(value) if isinstance(value, str) and action.type else value
        if converted not in action.choices:
            return f"invalid choice: {value!r} (choose from {', '.join(map(repr, action.choices))})"
    if value is None or isinstance(value, str):
        return None
    if action.nargs == "+":
        return None if isinstance(value, list) else "expected a list"
    kind = action.type
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expected an integer, got {value!r}"
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"expected a number, got {value!r}"
    if getattr(kind, "__name__", "") == "string_to_bool" and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    return None


def parse_recipe(source: RecipeSource, args: list[str] | None = None, build_training: bool = True) -> Recipe:
    """Parse a read recipe plus ``--key value`` command-line overrides into a :class:`Recipe`.

    Precedence: the file, then ``source.overrides`` (typed values from code), then the command line.
    """
    tokens = _cli_tokens(args)
    stage = _stage_of(source, tokens)
    parser = RecipeParser(stage)
    origin: dict[str, tuple[str | None, int | None]] = {k: (source.path, source.lines.get(k)) for k in source.mapping}
    origin.update({k: (OVERRIDE, None) for k in source.overrides})
    given = {**source.mapping, **source.overrides}
    for key, value in given.items():
        action = parser.actions.get(key)
        if action is None:
            raise RecipeError(origin[key][0], key, "unknown recipe key", line=origin[key][1],
                              hint=_unknown_key_hint(key, stage))
        if action.nargs == "+" and value is not None and not isinstance(value, list):
            given[key] = value = [value]
        problem = _check_value_type(action, value)
        if problem:
            raise RecipeError(origin[key][0], key, problem, line=origin[key][1])
    defaults = {"use_peft": True,   # decensor trains adapters; `use_peft: false` means full fine-tuning
                "output_dir": str(Path("runs") / Path(source.path or "run").stem)}
    parser.parser.set_defaults_with_config(**{**defaults, **given})
    try:
        namespace, rest = parser.parser.parse_known_args(tokens)
    except argparse.ArgumentError as err:
        key = parser.key_of(err.argument_name)
        from_cli = key in _given_on_command_line(parser, tokens)
        where, line = (COMMAND_LINE, None) if from_cli or key not in origin else origin[key]
        raise RecipeError(where, key, err.message, line=line) from None
    if rest:
        bad = rest[0]
        key = bad.split("=", 1)[0].lstrip("-")
        if not bad.startswith("-"):
            raise RecipeError(COMMAND_LINE, None, f"unexpected argument {bad!r}", hint="overrides are --key value")
        raise RecipeError(COMMAND_LINE, key, "unknown recipe key", hint=_unknown_key_hint(key, stage))
    values = vars(namespace)
    for key in _given_on_command_line(parser, tokens):
        origin[key] = (COMMAND_LINE, None)
        given[key] = values[key]
    raw = {k: values[k] for k in given}

    def build(cls):
        keys = [f.name for f in dataclasses.fields(cls) if f.init]
        try:
            return cls(**{k: values[k] for k in keys if k in values})
        except (TypeError, ValueError) as err:
            key = next((k for k in keys if re.match(rf"{k}\b", str(err))), None)
            where, line = origin.get(key, (source.path, None))
            message = re.sub(rf"^{key}:?\s*", "", str(err)) if key else f"{cls.__name__}: {err}"
            raise RecipeError(where, key, message, line=line) from None

    classes = _argument_classes(stage)
    recipe, model, data = (build(c) for c in classes[:3])
    if "mix" in raw:
        raw["mix"] = data.mix   # JSON from the command line, as the mapping it stands for
    data.dataset = _expand_datasets(data.dataset, *origin.get("dataset", (source.path, None)))
    check_ranges(values, origin)
    if not model.model_name_or_path:
        raise RecipeError(source.path, "model_name_or_path", "missing", hint="name a Hub id, a folder or `demo`")
    family = apply_family_defaults(model, recipe, source.path, origin)
    if recipe.init_adapter and stage != "dpo":
        where, line = origin["init_adapter"]
        raise RecipeError(where, "init_adapter", "only DPO recipes start from an SFT adapter", line=line)
    training = build(classes[3]) if build_training else None
    return Recipe(path=source.path, raw=raw, recipe=recipe, model=model, data=data, training=training,
                  family=family, env=dict(source.env), origin=origin)


def _unknown_key_hint(key: str, stage: str) -> str:
    other = training_config_class("dpo" if stage == "sft" else "sft")
    if key in {f.name for f in dataclasses.fields(other)}:
        return f"it is a {other.__mro__[1].__name__} key: is `stage` right?"
    return "see `decensor train RECIPE --help` for the keys"


def load_recipe(path: str | Path | None, args: list[str] | None = None, build_training: bool = True,
                overrides: dict[str, Any] | None = None) -> Recipe:
    """Read and parse a recipe: ``load_recipe("r.yaml", ["--max_steps", "5"], overrides={"seed": 1})``.

    This does not set up the process (``env:``, DeepSpeed); :func:`decensor.train.run.run_recipe` does, before
    it builds the training config."""
    return parse_recipe(read_recipe(path, overrides), args, build_training)


# key -> (test, what a valid value is). Values outside these ranges are rejected with file:line:key.
RANGES: dict[str, tuple[Any, str]] = {
    "max_steps": (lambda v: v == -1 or v > 0, "a positive number of steps, or -1 to train num_train_epochs"),
    "num_train_epochs": (lambda v: v > 0, "> 0"),
    "learning_rate": (lambda v: v > 0, "> 0"),
    "per_device_train_batch_size": (lambda v: v >= 1, ">= 1"),
    "gradient_accumulation_steps": (lambda v: v >= 1, ">= 1"),
    "logging_steps": (lambda v: v > 0, "> 0"),
    "save_steps": (lambda v: v > 0, "> 0 (a step count, or a fraction of the run below 1)"),
    "warmup_steps": (lambda v: v >= 0, ">= 0"),
    "max_length": (lambda v: v >= 8, ">= 8 tokens"),
    "lora_r": (lambda v: v >= 1, ">= 1"),
    "lora_alpha": (lambda v: v > 0, "> 0"),
    "lora_dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "lora_last_layers": (lambda v: v >= 1, ">= 1"),
    "beta": (lambda v: v > 0, "> 0"),
    "eval_fraction": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "max_rows": (lambda v: v >= 1, ">= 1"),
}


def check_ranges(values: dict[str, Any], origin: dict[str, tuple]) -> None:
    for key, (ok, expected) in RANGES.items():
        value = values.get(key)
        if value is None:
            continue
        try:
            good = bool(ok(value))
        except TypeError:
            good = False
        if not good:
            where, line = origin.get(key, (None, None))
            raise RecipeError(where, key, f"{value!r} is out of range: must be {expected}", line=line)


def _expand_datasets(entries: list[str], path, line=None) -> list[str]:
    """Keep folders/files/Hub ids; expand globs (``data/dpo/mined-*.jsonl``). A glob matching nothing is an error."""
    out: list[str] = []
    for entry in entries or []:
        if any(c in entry for c in "*?["):
            base = entry if os.path.isabs(entry) else str(REPO_ROOT / entry)
            matches = sorted(glob.glob(entry)) or sorted(glob.glob(base))
            if not matches:
                raise RecipeError(path, "dataset", f"{entry!r} matches no file", line=line,
                                  hint="fix the pattern or remove it")
            out.extend(m for m in matches if m not in out)
        elif entry not in out:
            out.append(entry)
    if not out:
        raise RecipeError(path, "dataset", "missing", line=line, hint="list data files or folders, e.g. [data/sft]")
    return out


def redact_secrets(mapping: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of a recipe mapping with credential values (``hub_token``, ``env: {HF_TOKEN: ...}``) replaced."""
    out, found = {}, []
    for key, value in mapping.items():
        if isinstance(value, dict):
            inner, keys = redact_secrets(value)
            out[key] = inner
            found += [f"{key}.{k}" for k in keys]
        elif SECRET_KEY.search(str(key)) and value not in (None, "", False):
            out[key] = REDACTED
            found.append(str(key))
        else:
            out[key] = value
    return out, found


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


def apply_family_defaults(model: ModelArguments, recipe: RecipeArguments, path=None,
                          origin: dict[str, tuple] | None = None) -> str:
    """Fill LoRA targets from the registry and resolve the reasoning format; returns the family name."""
    import logging

    origin = origin or {}

    def error(key: str, message: str) -> RecipeError:
        where, line = origin.get(key, (path, None))
        return RecipeError(where, key, message, line=line)

    try:
        family = model_family(model)
    except KeyError as err:
        raise error("family", str(err.args[0])) from None
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
            raise error("lora_target_modules", f"{clash} would be rewritten by peft to the fused routed-expert "
                        f"parameters of {family.name}; remove them, or use lora_target_parameters to adapt the experts")
    if model.use_peft and model.lora_target_parameters and model.lora_dropout:
        raise error("lora_dropout", "must be 0 with lora_target_parameters (peft ParamWrapper)")
    if recipe.reasoning_format == "auto":
        recipe.reasoning_format = "none" if family.reasoning == "none" else "empty-think"
    elif family.reasoning == "none" and recipe.reasoning_format != "none":
        raise error("reasoning_format", f"family {family.name} does not reason; use none")
    return family.name
