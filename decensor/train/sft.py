"""SFT stage: TRL ``SFTTrainer`` with LoRA/QLoRA, loss on the completion (the last assistant turn) only.

Rows are converted to TRL's conversational prompt/completion format (see ``formatting``), so
``completion_only_loss`` masks the prompt whatever the family's template. Packing (best-fit decreasing,
padding-free, works on sdpa via position_ids) keeps padding near zero; without packing, batches are
grouped by length.
"""

from __future__ import annotations

from pathlib import Path

from decensor.train.config import Recipe


def run_sft(recipe: Recipe) -> Path:
    from trl import SFTTrainer

    from decensor.train.run import train

    if recipe.training.completion_only_loss is None:
        recipe.training.completion_only_loss = True
    return train(recipe, SFTTrainer)
