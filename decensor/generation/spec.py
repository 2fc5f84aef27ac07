"""Which model answers, through which backend: :class:`ModelSpec`, shared by evaluation and mining.

A spec plus :class:`~decensor.generation.batched.GenerationSettings` is everything generation needs;
eval and data build one from their own arguments. :func:`add_backend_arguments` and
:func:`backend_options` give every command the same backend flags.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, fields

BACKENDS = ("transformers", "vllm", "openai")
API_KEY_ENV = "DECENSOR_API_KEY"


def slug(text: str) -> str:
    """A file-name-safe short form of a model id or path (the last 60 characters)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip("/")).strip("-")[-60:] or "model"


@dataclass
class ModelFields:
    """Which weights: a model (local folder, Hub id, ``demo``, or for ``openai`` the served model's name),
    an optional LoRA adapter, revision, GGUF file, remote-code request and dtype. Declared once; every
    argument class that names a model (eval, mining, synthesis) extends it."""

    model: str
    adapter: str | None = None
    revision: str = "main"
    gguf_file: str | None = None
    trust_remote_code: bool = False
    dtype: str = "auto"

    def model_fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(ModelFields)}


@dataclass
class ModelSpec(ModelFields):
    """The model fields and the backend with its options."""

    backend: str = "transformers"
    # transformers: None places the model with device_map "auto" when CUDA is present, else on the CPU
    device_map: str | None = None
    load_in_4bit: bool = False              # bitsandbytes NF4 (transformers), quantization="bitsandbytes" (vLLM)
    # vLLM
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    # openai: any OpenAI-compatible chat completions endpoint (a hosted chatbot, a vLLM server)
    base_url: str | None = None
    api_key_env: str = API_KEY_ENV          # the NAME of the environment variable holding the key
    concurrency: int = 8                    # requests in flight at most
    max_retries: int = 5                    # per request, exponential backoff (408/409/429/5xx, connection errors)
    timeout: float = 600.0                  # seconds per request

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose from {list(BACKENDS)}")
        if self.backend == "openai":
            if not self.base_url:
                raise ValueError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1)")
            if self.adapter:
                raise ValueError("the openai backend cannot apply a local adapter; serve the adapter on the "
                                 "endpoint (e.g. vLLM --lora-modules) and name it with --model")
        if self.concurrency < 1 or self.tensor_parallel_size < 1:
            raise ValueError("concurrency and tensor_parallel_size must be at least 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")

    @classmethod
    def create(cls, model: str, options: dict | None = None, **common) -> ModelSpec:
        """``ModelSpec(model, **common, **options)`` with an error naming unknown option names."""
        options = dict(options or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown backend option(s) {unknown}; known: {sorted(known - {'model'})}")
        return cls(model=model, **common, **options)

    def model_arguments(self):
        from decensor.models.loading import model_arguments

        kwargs = dict(model_revision=self.revision, gguf_file=self.gguf_file,
                      trust_remote_code=self.trust_remote_code, dtype=self.dtype)
        if self.load_in_4bit:
            kwargs.update(load_in_4bit=True, bnb_4bit_quant_type="nf4")
        return model_arguments(self.model, **kwargs)

    def answer_options(self) -> dict:
        """Backend options that can change an answer (part of the cache key); the rest only change speed."""
        if self.backend == "openai":
            return {"base_url": self.base_url.rstrip("/")}
        options = {"load_in_4bit": self.load_in_4bit}
        if self.backend == "vllm":
            options["tensor_parallel_size"] = self.tensor_parallel_size
        return options


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """The backend flags of ``eval run`` and ``data mine``."""
    g = parser.add_argument_group("generation backend")
    g.add_argument("--backend", default="transformers", choices=list(BACKENDS),
                   help="transformers (CPU/GPU), vllm (GPU clusters), openai (any OpenAI-compatible endpoint)")
    g.add_argument("--device-map", help="transformers: device_map (default: auto with CUDA, else cpu)")
    g.add_argument("--load-in-4bit", action="store_true", help="transformers/vllm: bitsandbytes 4-bit weights")
    g.add_argument("--tensor-parallel-size", type=int, help="vllm: GPUs per model (default 1)")
    g.add_argument("--max-model-len", type=int, help="vllm: context length to reserve KV cache for")
    g.add_argument("--gpu-memory-utilization", type=float, help="vllm: fraction of GPU memory to use (default 0.9)")
    g.add_argument("--base-url", help="openai: the endpoint, e.g. http://127.0.0.1:8000/v1 (--model names the "
                                      "served model)")
    g.add_argument("--api-key-env", help=f"openai: environment variable with the API key (default {API_KEY_ENV})")
    g.add_argument("--concurrency", type=int, help="openai: requests in flight at most (default 8)")
    g.add_argument("--max-retries", type=int, help="openai: retries per request with exponential backoff (default 5)")
    g.add_argument("--request-timeout", dest="timeout", type=float, help="openai: seconds per request (default 600)")


_OPTION_NAMES = ("device_map", "load_in_4bit", "tensor_parallel_size", "max_model_len", "gpu_memory_utilization",
                 "base_url", "api_key_env", "concurrency", "max_retries", "timeout")


def backend_options(args: argparse.Namespace) -> dict:
    """The backend options given on the command line (unset ones keep :class:`ModelSpec`'s defaults)."""
    options = {name: getattr(args, name) for name in _OPTION_NAMES if getattr(args, name, None) not in (None, False)}
    return options
