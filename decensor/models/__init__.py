"""Model loading, the family registry and the offline demo model."""

from decensor.models.loading import ModelArguments, load_model, load_model_and_tokenizer, load_tokenizer, model_arguments
from decensor.models.registry import FAMILIES, ModelFamily, detect_family, get_family

__all__ = ["FAMILIES", "ModelArguments", "ModelFamily", "detect_family", "get_family", "load_model",
           "load_model_and_tokenizer", "load_tokenizer", "model_arguments"]
