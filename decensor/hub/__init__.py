"""Publishing to the Hugging Face Hub: model and dataset cards, dry-run folders, uploads."""

from decensor.hub.push import PushError, prepare_dataset_folder, prepare_model_folder, push_dataset, push_model

__all__ = ["PushError", "prepare_dataset_folder", "prepare_model_folder", "push_dataset", "push_model"]
