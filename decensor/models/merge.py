"""Fold a LoRA adapter into its base model's weights: the one merge used by ``decensor merge`` and
``decensor push --merged``.

The base model's *identity* (path or Hub id, revision, family, GGUF file) may come from the adapter's
run folder (``recipe.resolved.yaml``) or ``adapter_config.json``; whether the base model's own code may
run never does: that is decided by :mod:`decensor.models.remote_code` from this invocation's command
line. QLoRA adapters are merged into full-precision weights, never into 4-bit ones.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from decensor.errors import UserError

logger = logging.getLogger(__name__)

# What a run folder may say about its base model. trust_remote_code is read as a request (so the
# refusal can say what is needed), never as consent.
BASE_KEYS = ("model_name_or_path", "model_revision", "trust_remote_code", "family", "gguf_file")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "added_tokens.json", "chat_template.jinja", "tokenizer.model")


class MergeError(UserError, ValueError):
    """The adapter folder or its base model cannot be merged as asked."""


def base_of(adapter: Path) -> dict:
    """Model arguments of the adapter's base: from the run's resolved recipe, else adapter_config.json."""
    import yaml

    resolved = adapter / "recipe.resolved.yaml"
    if resolved.exists():
        recipe = yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}
        # a resolved recipe is flat (model keys at top level) or nested under `model:`
        model = recipe.get("model") if isinstance(recipe.get("model"), dict) else recipe
        base = {k: model[k] for k in BASE_KEYS if model.get(k) is not None}
        if base.get("model_name_or_path"):
            return base
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    return {"model_name_or_path": config.get("base_model_name_or_path")}


def merge_adapter(adapter: str | Path, out: str | Path, base: str | None = None, dtype: str = "auto",
                  revision: str | None = None) -> Path:
    """Merge the LoRA adapter in ``adapter`` into its base model and save safetensors + tokenizer to ``out``.

    ``base``/``revision`` override what the adapter says about its base model; ``dtype="auto"`` keeps the
    dtype the base checkpoint is stored in (QLoRA bases are loaded unquantized, in that dtype).
    """
    from peft import PeftModel

    from decensor.models.loading import ModelArguments, load_model, load_tokenizer

    adapter, out = Path(adapter), Path(out)
    if not (adapter / "adapter_config.json").is_file():
        raise MergeError(f"{adapter}: no adapter_config.json; give a finished run folder or a LoRA adapter folder")
    kwargs = base_of(adapter)
    if base:
        kwargs = {"model_name_or_path": base, **{k: v for k, v in kwargs.items() if k == "trust_remote_code"}}
    if revision:
        kwargs["model_revision"] = revision
    if not kwargs.get("model_name_or_path"):
        raise MergeError(f"{adapter}: cannot tell the base model; pass --base")
    args = ModelArguments(dtype=dtype, **kwargs)   # never 4-bit: merge into full-precision weights
    logger.info("merging %s into %s", adapter, args.model_name_or_path)
    model = load_model(args, device_map="cpu")
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    if (adapter / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(out)
    else:
        load_tokenizer(args).save_pretrained(out)
    (out / "merged_from.json").write_text(json.dumps({"adapter": str(adapter), "base": kwargs}, indent=2))
    return out
