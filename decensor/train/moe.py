"""Mixture-of-experts training: ZeRO-3 leaf modules and optional LoRA on the routed experts.

In transformers 5 the routed experts of Qwen3-MoE and DeepSeek-V3 (and Kimi-K2, which loads as DeepSeek-V3)
are two fused 3-D parameters per MoE layer, ``mlp.experts.gate_up_proj`` (experts x 2*I x H) and
``mlp.experts.down_proj`` (experts x H x I); they are not ``nn.Linear`` modules, so ``target_modules`` cannot
reach them. peft adapts them through ``target_parameters`` (``lora.ParamWrapper``): each expert gets its own
rank-r pair, and the adapted weight ``W + s * B @ A`` is formed for the whole expert stack at every forward.

Recipes list them in ``lora_target_parameters``; ``name:r`` gives the rank per expert for that parameter
(default: ``lora_r``), e.g.::

    lora_target_parameters: ["mlp.experts.gate_up_proj:4", "mlp.experts.down_proj:4"]
    lora_dropout: 0.0            # peft's ParamWrapper cannot apply dropout

The per-expert rank becomes a peft ``rank_pattern`` entry, with ``alpha_pattern`` scaled so every adapter
keeps the same ``lora_alpha / r`` scaling. Attention-only LoRA stays the registry default: expert LoRA
multiplies the trainable parameters by the expert count and adds about three copies of one layer's expert
stack in the compute dtype while that layer runs (adapted weight, its gradient, one indexing temporary;
``decensor plan`` counts them).

Under DeepSpeed ZeRO-3 the MoE block named by the family's ``moe_block_classes`` is registered as a leaf
module (``deepspeed.utils.set_z3_leaf_modules``): ZeRO-3 records the order in which it fetches parameters
and prefetches by that record, but the experts a batch reaches change from step to step, which hangs or
breaks training (DeepSpeed#7461). A leaf block is fetched whole when it starts.
"""

from __future__ import annotations

import logging
import re
import warnings

logger = logging.getLogger(__name__)

RANK_SEP = ":"


def split_expert_targets(entries: list[str] | str | None) -> tuple[list[str], dict[str, int]]:
    """``["mlp.experts.gate_up_proj:4", "mlp.experts.down_proj"]`` -> (names, {name: rank} for those with one)."""
    if entries is None:
        return [], {}
    if isinstance(entries, str):
        entries = [entries]
    names: list[str] = []
    ranks: dict[str, int] = {}
    for entry in entries:
        name, sep, rank = str(entry).partition(RANK_SEP)
        name = name.strip()
        if not name:
            raise ValueError(f"lora_target_parameters: empty parameter name in {entry!r}")
        if sep:
            if not rank.strip().isdigit() or int(rank) <= 0:
                raise ValueError(f"lora_target_parameters: {entry!r}: the rank after {RANK_SEP!r} must be a "
                                 "positive integer")
            ranks[name] = int(rank)
        names.append(name)
    return names, ranks


def expert_rank(entries: list[str] | str | None, lora_r: int) -> int:
    """The largest rank per expert the entries ask for (``lora_r`` where an entry gives none); 0 if none."""
    names, ranks = split_expert_targets(entries)
    return max((ranks.get(n, lora_r) for n in names), default=0)


def configure_expert_lora(peft_config):
    """Move ``name:r`` ranks out of ``peft_config.target_parameters`` into ``rank_pattern``/``alpha_pattern``."""
    if peft_config is None or not getattr(peft_config, "target_parameters", None):
        return peft_config
    names, ranks = split_expert_targets(list(peft_config.target_parameters))
    peft_config.target_parameters = names
    if peft_config.lora_dropout:
        raise ValueError("lora_dropout must be 0 with lora_target_parameters (peft's ParamWrapper cannot apply "
                         f"dropout), got {peft_config.lora_dropout}")
    for name, r in ranks.items():
        if r == peft_config.r:
            continue
        key = re.escape(name)   # peft matches rf"(.*\.)?({key})$" against model.layers.N.mlp.experts.gate_up_proj
        peft_config.rank_pattern = {**(peft_config.rank_pattern or {}), key: r}
        peft_config.alpha_pattern = {**(peft_config.alpha_pattern or {}),
                                     key: peft_config.lora_alpha * r / peft_config.r}
    if ranks:
        # peft 0.21 checks rank_pattern keys against targeted *module* names only and warns "did not match
        # any targeted module and were ignored" for parameter targets, although it applies them
        # (tests/test_moe.py checks the shapes).
        warnings.filterwarnings("ignore", message=r"The following (rank|alpha)_pattern keys did not match",
                                category=RuntimeWarning)
    return peft_config


def _has_fused_experts(model) -> bool:
    for name, module in model.named_modules():
        if name.endswith("experts") and any(len(getattr(p, "ds_shape", p.shape)) == 3
                                            for p in module.parameters(recurse=False)):
            return True
    return False


def register_zero3_leaf_modules(model, block_classes: tuple[str, ...] | list[str]) -> list[str]:
    """Mark every module of ``block_classes`` as a ZeRO-3 leaf; returns their names. Raises if the model has
    fused experts but none of these classes (a new MoE family needs ``moe_block_classes`` in the registry)."""
    if not block_classes:
        if _has_fused_experts(model):
            raise ValueError(f"{type(model).__name__} has fused MoE experts but its model family names no "
                             "moe_block_classes (decensor/models/registry.py): ZeRO-3 needs the MoE block as a "
                             "leaf module")
        return []
    from deepspeed.utils import set_z3_leaf_modules

    try:
        leaves = set_z3_leaf_modules(model, list(block_classes))
    except ValueError:
        raise ValueError(f"no module of class {', '.join(block_classes)} in {type(model).__name__}: the family's "
                         "moe_block_classes (decensor/models/registry.py) does not match this model") from None
    names = [name for name, module in model.named_modules() if any(module is leaf for leaf in leaves)]
    logger.info("ZeRO-3 leaf modules: %d x %s", len(names), "/".join(sorted({type(m).__name__ for m in leaves})))
    return names


def prepare_moe(model, peft_config, recipe):
    """What a MoE model needs before the trainer wraps it: leaf modules, and the expert LoRA ranks.

    Called by :func:`decensor.train.run.train` for every model (a no-op for dense families)."""
    from decensor.models.registry import get_family

    family = get_family(recipe.family)
    register_zero3_leaf_modules(model, family.moe_block_classes)
    peft_config = configure_expert_lora(peft_config)
    if peft_config is not None and peft_config.target_parameters and not peft_config.target_modules:
        peft_config.target_modules = list(family.lora_target_modules)
    return peft_config
