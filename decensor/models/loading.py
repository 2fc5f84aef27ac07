"""Load a causal LM and its tokenizer from a Hub id, a local folder or a GGUF file.

Builds on TRL's ``ModelConfig`` (the same dataclass ``trl sft`` parses) and its
``get_quantization_config`` helper; adds a GGUF file, the family, and a
``trust_remote_code`` policy: remote code runs only when the revision is pinned to a commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import torch
from trl import ModelConfig
from trl import get_quantization_config

from decensor.models.registry import ModelFamily, detect_family, get_family

logger = logging.getLogger(__name__)

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
DEMO_MODEL_ALIAS = "demo"


class RemoteCodePolicyError(ValueError):
    """trust_remote_code was asked for without a pinned revision."""


@dataclass
class ModelArguments(ModelConfig):
    """TRL's ModelConfig plus what decensor needs to find and load a model safely."""

    family: str | None = field(default=None, metadata={"help": "Model family (see `decensor model families`); "
                                                                "detected from the id when unset."})
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file name inside model_name_or_path."})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "Run the model repo's own Python code. Only allowed with model_revision pinned to a commit."})
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
    if args.trust_remote_code and not COMMIT_SHA.match(args.model_revision or ""):
        raise RemoteCodePolicyError(
            f"trust_remote_code is on for {args.model_name_or_path!r} but model_revision="
            f"{args.model_revision!r} is not a 40-character commit hash. Pin the revision you reviewed, "
            "or turn trust_remote_code off.")


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

    check_remote_code_policy(args)
    path = resolve_model_path(args.model_name_or_path)
    quantization_config = get_quantization_config(args)
    if quantization_config is not None and device_map is None:
        device_map = kbit_device_map()
    kwargs = dict(
        revision=args.model_revision,
        trust_remote_code=args.trust_remote_code,
        dtype=torch_dtype(args.dtype),
        attn_implementation=args.attn_implementation,
        quantization_config=quantization_config,
        device_map=device_map,
    )
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
