"""Load a causal LM and its tokenizer from a Hub id, a local folder or a GGUF file.

Builds on TRL's ``ModelConfig`` (the same dataclass ``trl sft`` parses) and its
``get_quantization_config`` helper; adds a GGUF file, the family, and the remote-code policy of
:mod:`decensor.models.remote_code` (consent on the command line, a real pinned commit for Hub repos,
a code hash for local folders, no code from other repositories).

Families whose published config names a model type transformers does not know but whose architecture
it ships natively (Kimi-K2 is DeepSeek-V3) load through the native class: the config is re-typed and
``auto_map`` dropped, so the model's remote modelling code never runs; only the tokenizer may need it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from trl import ModelConfig
from trl import get_quantization_config

from decensor.models.registry import ModelFamily, detect_family, get_family
from decensor.models.remote_code import check_remote_code

logger = logging.getLogger(__name__)

DEMO_MODEL_ALIAS = "demo"


@dataclass
class ModelArguments(ModelConfig):
    """TRL's ModelConfig plus what decensor needs to find and load a model safely."""

    family: str | None = field(default=None, metadata={"help": "Model family (see `decensor model families`); "
                                                                "detected from the id when unset."})
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file name inside model_name_or_path."})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "The model needs its repo's own Python code. Never sufficient alone: the command line must also "
                "carry --trust-remote-code (see decensor.models.remote_code)."})
    bnb_4bit_quant_storage: str | None = field(default=None, metadata={
        "help": "Storage dtype of 4-bit weights; defaults to `dtype` under QLoRA so ZeRO-3 can shard them."})

    def __post_init__(self):
        super().__post_init__()
        if self.load_in_4bit and self.bnb_4bit_quant_storage is None and self.dtype not in (None, "auto"):
            # ZeRO-3 shards parameters by dtype; 4-bit weights stored as uint8 would not mix with the
            # bf16 LoRA/norm parameters, so store the packed weights in the compute dtype.
            self.bnb_4bit_quant_storage = self.dtype


def resolve_model_path(name_or_path: str) -> str:
    """``demo`` names the offline demo model (fetched on first use); anything else passes through."""
    if name_or_path == DEMO_MODEL_ALIAS:
        from decensor.models.demo_model import fetch_demo_model

        return str(fetch_demo_model())
    return name_or_path


def kbit_device_map() -> dict | None:
    """One whole copy of a quantized model per process, on that process's GPU (what TRL 0.x's
    ``get_kbit_device_map`` did); on CPU no map is needed."""
    if not torch.cuda.is_available():
        return None
    from transformers.integrations import is_deepspeed_zero3_enabled

    if is_deepspeed_zero3_enabled():
        return None  # ZeRO-3 places and shards the (4-bit) weights itself; it refuses a device_map
    from accelerate import PartialState

    return {"": PartialState().local_process_index}


def check_remote_code_policy(args: ModelArguments) -> None:
    """Raise :class:`RemoteCodePolicyError` unless the model's own code may run in this invocation."""
    check_remote_code(resolve_model_path(args.model_name_or_path), args.trust_remote_code, args.model_revision)


def _read_config(path: str, revision: str | None) -> dict:
    folder = Path(path)
    if folder.is_dir():
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    from huggingface_hub import hf_hub_download

    return json.loads(Path(hf_hub_download(path, "config.json", revision=revision)).read_text(encoding="utf-8"))


def native_config(path: str, family: ModelFamily, revision: str | None = None):
    """The family's config re-typed as the native transformers architecture (no ``auto_map``), or None."""
    if not family.native_model_type:
        return None
    from transformers import AutoConfig

    raw = _read_config(path, revision)
    if raw.get("model_type") == family.native_model_type and "auto_map" not in raw:
        return None
    raw = {k: v for k, v in raw.items() if k not in ("auto_map", "model_type", "transformers_version")}
    return AutoConfig.for_model(family.native_model_type, **raw)


def _family_or_none(args: ModelArguments, path: str) -> ModelFamily | None:
    config_file = Path(path) / "config.json"
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type") if config_file.is_file() else None
    try:
        return model_family(args, model_type)
    except KeyError:
        return None


def torch_dtype(name: str | None) -> torch.dtype | str | None:
    if name in (None, "auto"):
        return name
    return getattr(torch, name)


def model_family(args: ModelArguments, model_type: str | None = None) -> ModelFamily:
    if args.family:
        return get_family(args.family)
    return detect_family(args.model_name_or_path or "", model_type)


def load_tokenizer(args: ModelArguments):
    from transformers import AutoTokenizer

    check_remote_code_policy(args)
    path = resolve_model_path(args.model_name_or_path)
    kwargs = dict(revision=args.model_revision, trust_remote_code=args.trust_remote_code)
    if args.gguf_file:
        kwargs["gguf_file"] = args.gguf_file
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(args: ModelArguments, device_map: str | dict | None = None, for_training: bool = False):
    """Load the causal LM described by ``args``.

    ``device_map=None`` picks a per-process device map for quantized models and leaves plain models
    on the CPU (the trainer or accelerate places them). Weights load from safetensors only.
    """
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(args.model_name_or_path)
    family = _family_or_none(args, path)
    config = native_config(path, family, args.model_revision) if family is not None else None
    # A natively supported architecture never needs the repo's modelling code, whatever the recipe says.
    trust = args.trust_remote_code and config is None
    check_remote_code(path, trust, args.model_revision)
    quantization_config = get_quantization_config(args)
    if quantization_config is not None and device_map is None:
        device_map = kbit_device_map()
    kwargs = dict(
        revision=args.model_revision,
        trust_remote_code=trust,
        dtype=torch_dtype(args.dtype),
        attn_implementation=args.attn_implementation,
        quantization_config=quantization_config,
        device_map=device_map,
    )
    if config is not None:
        kwargs["config"] = config
    if args.gguf_file:
        kwargs["gguf_file"] = args.gguf_file
    else:
        kwargs["use_safetensors"] = True
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if for_training:
        model.config.use_cache = False
    logger.info("loaded %s (%s, %.1fM parameters)", path, type(model).__name__,
                sum(p.numel() for p in model.parameters()) / 1e6)
    return model


def load_model_and_tokenizer(args: ModelArguments, device_map: str | dict | None = None,
                             for_training: bool = False):
    return load_model(args, device_map, for_training), load_tokenizer(args)


def model_arguments(model_name_or_path: str, **overrides) -> ModelArguments:
    """Shorthand used by the CLI and tests: ``model_arguments("demo", dtype="float32")``."""
    overrides.setdefault("dtype", "auto")
    return ModelArguments(model_name_or_path=model_name_or_path, **overrides)
