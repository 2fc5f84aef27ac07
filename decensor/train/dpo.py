"""DPO stage: TRL ``DPOTrainer`` with LoRA/QLoRA; ``beta`` and ``loss_type`` come from the recipe.

Reference model, never a second copy of the weights:

- fresh adapter (no ``init_adapter``): the reference is the base model with the adapter disabled;
- ``init_adapter: runs/<sft-run>`` (our default after SFT): the SFT adapter is loaded and trained further,
  and TRL keeps a frozen copy of it (adapter "ref") as the reference, so DPO measures preferences
  against the SFT policy, as DPO is meant to. The saved adapter is the whole SFT+DPO adapter on the
  base model (the frozen copy is saved under ``ref/`` and can be ignored).
"""

from __future__ import annotations

from pathlib import Path

from decensor.train.config import Recipe


def run_dpo(recipe: Recipe) -> Path:
    from trl import DPOTrainer

    from decensor.train.run import train

    return train(recipe, DPOTrainer)
