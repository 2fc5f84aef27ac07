"""Training: recipe YAML -> LoRA/QLoRA SFT or DPO run with TRL + peft (+ DeepSpeed ZeRO under accelerate)."""

from __future__ import annotations

from pathlib import Path


def run_recipe(path: str | Path, overrides: list[str] | None = None, overwrite: bool = False) -> Path:
    """Parse a recipe and run its stage in this process (or in each process under ``accelerate launch``)."""
    from decensor.train.config import load_recipe

    overrides = list(overrides or [])
    if overwrite:
        overrides.append("overwrite=true")
    recipe = load_recipe(path, overrides)
    if recipe.recipe.stage == "sft":
        from decensor.train.sft import run_sft

        return run_sft(recipe)
    from decensor.train.dpo import run_dpo

    return run_dpo(recipe)
