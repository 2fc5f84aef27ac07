"""Answers to prompts, from the cache where they are already known, else from the backend (and cached).

The cache key (:func:`cache_key`) holds everything that changes an answer: the backend and what it
runs on (device type, dtype, answer-changing options such as 4-bit loading or the endpoint URL), the
model and adapter by CONTENT (SHA-256 of their files, see :mod:`decensor.generation.identity`), the
chat template, and the generation settings (including the system prompt and thinking switch).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from decensor.generation.backends import device_type, make_backend
from decensor.generation.batched import GenerationSettings, Messages
from decensor.generation.cache import AnswerCache, prompt_key
from decensor.generation.identity import (adapter_sha256, chat_template_sha256, config_dtype, folder_sha256,
                                          hub_commit)
from decensor.generation.spec import ModelSpec

logger = logging.getLogger(__name__)


def _local_folder(spec: ModelSpec) -> Path | None:
    from decensor.models.loading import resolve_model_path

    path = Path(resolve_model_path(spec.model))
    return path if path.is_dir() else None


def model_identity(spec: ModelSpec) -> dict:
    """The model as results files record it: name, revision, and ``sha`` (``local:`` + 16 hex of the content
    hash for a folder, ``gguf:`` + the verified GGUF hash for the offline demo model, ``hub:`` + the commit)."""
    ident = {"name_or_path": str(spec.model), "revision": spec.revision, "gguf_file": spec.gguf_file}
    if spec.backend == "openai":
        return {**ident, "revision": None, "base_url": spec.base_url}
    folder = _local_folder(spec)
    if folder is None:
        commit = hub_commit(spec.model, spec.revision)
        return {**ident, "sha": f"hub:{commit}" if commit else None}
    marker = folder / "decensor-demo.json"
    if marker.exists():
        return {**ident, "sha": "gguf:" + json.loads(marker.read_text())["gguf_sha256"]}
    return {**ident, "sha": "local:" + folder_sha256(folder, spec.gguf_file)[:16]}


def cache_key(spec: ModelSpec, settings: GenerationSettings) -> dict:
    """Everything that changes an answer (see the module docstring); batch size and concurrency do not."""
    key = {"backend": spec.backend, "device": device_type(spec), "options": spec.answer_options(),
           "generation": settings.cache_key()}
    if spec.backend == "openai":  # what runs behind the endpoint is the server's business: name and URL
        return {**key, "model": {"name": spec.model}, "dtype": None, "adapter": None, "chat_template": None}
    folder = _local_folder(spec)
    if folder is not None:
        model = {"content_sha256": folder_sha256(folder, spec.gguf_file), "gguf_file": spec.gguf_file}
        template = chat_template_sha256(folder)
        dtype = spec.dtype if spec.dtype not in (None, "auto") else (config_dtype(folder) or "auto")
    else:  # a Hub repo: its commit is a hash of every file in it
        model = {"hub": spec.model, "commit": hub_commit(spec.model, spec.revision) or f"unresolved:{spec.revision}",
                 "gguf_file": spec.gguf_file}
        template, dtype = None, spec.dtype or "auto"
    return {**key, "model": model, "dtype": dtype, "chat_template": template,
            "adapter": adapter_sha256(spec.adapter) if spec.adapter else None}


def generate_answers(spec: ModelSpec, items: Sequence[tuple[str, str | Messages]], settings: GenerationSettings,
                     progress: bool = True, cache_root: str | Path | None = None) -> list[str]:
    """Answers to ``items`` (``(prompt id, prompt)``) in order: cached ones are read back, the rest generated
    (the model is loaded only when something is missing) and cached batch by batch, so a killed run
    resumes where it stopped."""
    cache = AnswerCache.for_run(cache_key(spec, settings), Path(cache_root) if cache_root else None)
    keys = [prompt_key(pid, prompt) for pid, prompt in items]
    todo = list({k: i for i, k in enumerate(keys) if k not in cache}.values())
    logger.info("%d prompts, %d cached in %s, %d to generate", len(items), len(items) - len(todo), cache.path,
                len(todo))
    if todo:
        backend = make_backend(spec)
        for batch in backend.iter_generate([items[i][1] for i in todo], settings, progress=progress):
            cache.add_many([(keys[todo[j]], answer) for j, answer in batch])
    return [cache.get(k) for k in keys]  # type: ignore[misc]
