"""Training: recipe YAML -> LoRA/QLoRA SFT or DPO run with TRL + peft (+ DeepSpeed ZeRO under accelerate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_recipe(path: str | Path, args: list[str] | None = None, overrides: dict[str, Any] | None = None, *,
               overwrite: bool = False) -> Path:
    """Parse a recipe and run its stage in this process (or in each process under ``accelerate launch``);
    see :func:`decensor.train.run.run_recipe`."""
    from decensor.train.run import run_recipe as run

    return run(path, args, overrides, overwrite=overwrite)
