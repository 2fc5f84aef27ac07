"""Shared fixtures: tiny random-weight models of each family, and the real offline Qwen model."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DS_ACCELERATOR", "cpu")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """``tiny_model_dir(family)`` -> folder with a tiny random model of that family (built once)."""
    from decensor.testing import build_tiny_model

    built: dict[str, str] = {}

    def get(family: str = "qwen2") -> str:
        if family not in built:
            built[family] = str(build_tiny_model(family, tmp_path_factory.mktemp(f"tiny-{family}")))
        return built[family]

    return get


@pytest.fixture(scope="session")
def demo_model_dir():
    """The real offline Qwen checkpoint (downloaded, verified and converted on first use)."""
    from decensor.models.demo_model import fetch_demo_model

    return str(fetch_demo_model())


@pytest.fixture(scope="session")
def demo_model(demo_model_dir):
    """The real offline Qwen model and tokenizer, loaded once per session in float32."""
    from decensor.models import load_model_and_tokenizer, model_arguments

    return load_model_and_tokenizer(model_arguments(demo_model_dir, dtype="float32"))
