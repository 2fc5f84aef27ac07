"""Sentence embeddings from a local model's hidden states, cached by content hash.

The vector of a text is the mean over its tokens of one hidden layer (:data:`LAYER`) of the offline
Qwen model (``decensor model fetch-demo``). Chinese text is folded to Simplified first, so ``zh`` and
``zh-Hant`` versions of one question are compared in one script. Vectors are cached in
``$DECENSOR_CACHE/embeddings/<model>-L<layer>.npz`` keyed by the SHA-256 of the (folded) text, so each
text is embedded once; a run only computes texts it has not seen.

When the model is not there, :class:`EmbeddingUnavailable` says so and what to run; callers skip only
this signal and print the reason (never silently).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from decensor.paths import cache_dir

logger = logging.getLogger(__name__)

LAYER = 12          # of 24: a middle layer (the last layers of a causal LM encode the next token more than the
                    # text); not tuned: each layer costs a full pass over every prompt on CPU
MAX_TOKENS = 256
BATCH_SIZE = 16
SAVE_EVERY = 64     # texts between cache writes


class EmbeddingUnavailable(RuntimeError):
    """The embedding model is missing or unloadable."""


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_model_dir() -> Path:
    models = cache_dir() / "models"
    if not any(models.glob("*/decensor-demo.json")):   # cheap: no import of the model stack when nothing is there
        raise EmbeddingUnavailable(f"the offline Qwen model is not in {models}; run `decensor model fetch-demo` to "
                                   "turn on the embedding signal")
    from decensor.models.demo_model import demo_model_dir, is_fetched

    path = demo_model_dir()
    if not is_fetched():
        raise EmbeddingUnavailable(f"the offline Qwen model is not in {path}; run `decensor model fetch-demo` to "
                                   "turn on the embedding signal")
    return path


class EmbeddingCache:
    """``{sha256(text): vector}`` in one .npz file per model and layer; written atomically."""

    def __init__(self, path: Path):
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            try:
                with np.load(path) as data:
                    self.vectors = {k: data[k] for k in data.files}
            except (OSError, ValueError) as err:
                logger.warning("ignoring unreadable embedding cache %s (%s); recomputing", path, err)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **self.vectors)
        os.replace(tmp, self.path)


class Embedder:
    def __init__(self, model_dir: str | Path | None = None, layer: int = LAYER, cache_root: Path | None = None):
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.layer = layer
        ident = hashlib.sha256((self.model_dir / "config.json").read_bytes()
                               if (self.model_dir / "config.json").is_file() else str(self.model_dir).encode())
        name = f"{self.model_dir.name}-{ident.hexdigest()[:12]}-L{layer}.npz"
        self.cache = EmbeddingCache((cache_root or cache_dir()) / "embeddings" / name)
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                from decensor.models import load_model_and_tokenizer, model_arguments

                self._model, self._tokenizer = load_model_and_tokenizer(
                    model_arguments(str(self.model_dir), dtype="float32"))
            except Exception as err:  # noqa: BLE001 - any load failure turns the signal off, with the reason
                raise EmbeddingUnavailable(f"cannot load {self.model_dir}: {type(err).__name__}: {err}") from err
            self._model.eval()
            # only the layers up to the pooled one (+1, so that hidden_states[layer] is that layer's raw output, as
            # in the full model, not the final-normed one): about half the compute of a full forward pass
            layers = self._model.model.layers
            if self.layer + 1 < len(layers):
                self._model.model.layers = layers[: self.layer + 1]
                self._model.config.num_hidden_layers = self.layer + 1
        return self._model, self._tokenizer

    def compute(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        import torch

        model, tok = self._load()
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "right"
        out = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True,
                      max_length=MAX_TOKENS)
            with torch.no_grad():
                hidden = model.model(**enc, output_hidden_states=True).hidden_states[self.layer]
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out.extend(zip(idx, pooled.float().numpy()))
        vecs = np.zeros((len(texts), out[0][1].shape[0]), dtype=np.float32) if out else np.zeros((0, 0), np.float32)
        for i, v in out:
            vecs[i] = v
        return vecs

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self.cache.vectors}.items())
        if missing:
            import sys

            from tqdm import tqdm

            print(f"embedding {len(missing)} new texts with {self.model_dir.name} (layer {self.layer}; "
                  f"{len(texts) - len(missing)} cached in {self.cache.path})", file=sys.stderr)
            with tqdm(total=len(missing), desc="embedding", unit="text", file=sys.stderr,
                      disable=len(missing) < SAVE_EVERY) as bar:
                for start in range(0, len(missing), SAVE_EVERY):   # saved as it goes: an interrupted run keeps them
                    chunk = missing[start:start + SAVE_EVERY]
                    for (k, _), v in zip(chunk, self.compute([t for _, t in chunk])):
                        self.cache.vectors[k] = v.astype(np.float16)
                    self.cache.save()
                    bar.update(len(chunk))
        return np.stack([self.cache.vectors[k].astype(np.float32) for k in keys]) if keys else np.zeros((0, 0))


_EMBEDDERS: dict[tuple, Embedder] = {}


def embed_texts(texts: Sequence[str], group: str = "en", model_dir: str | Path | None = None,
                layer: int = LAYER) -> np.ndarray:
    """Mean-pooled hidden states of ``texts`` (Chinese folded to Simplified when ``group`` is ``zh``)."""
    from decensor.text import to_simplified

    key = (str(model_dir), layer)
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = Embedder(model_dir, layer)
    texts = [to_simplified(t) for t in texts] if group == "zh" else list(texts)
    return _EMBEDDERS[key].embed(texts)


__all__ = ["EmbeddingUnavailable", "Embedder", "LAYER", "embed_texts"]
