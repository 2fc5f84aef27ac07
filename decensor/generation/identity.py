"""What a model IS, by content: SHA-256 of its weight, config and tokenizer files and of the adapter.

Hashing a multi-GB checkpoint takes seconds to minutes, so each file's hash is kept in a small index
(``<cache>/file-hashes.json``: resolved path -> size, mtime, sha256) and reused while the file's size
and modification time hold. As in git's "racy clean" rule, a hash is reused only when the file was
last modified at least :data:`RACY_SECONDS` before it was hashed, so a same-size edit in the same
clock tick as the hashing is never masked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from decensor.hashing import sha256_file
from decensor.paths import cache_dir

logger = logging.getLogger(__name__)

INDEX_NAME = "file-hashes.json"
RACY_SECONDS = 2.0
# weight formats transformers/vLLM read only when there is no safetensors file
OTHER_WEIGHTS = (".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt", ".onnx")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def _index_path() -> Path:
    return cache_dir() / INDEX_NAME


def _load_index() -> dict:
    try:
        index = json.loads(_index_path().read_text(encoding="utf-8"))
        return index if isinstance(index, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_index(index: dict) -> None:
    path = _index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new index, never half of one


def files_sha256(paths: Iterable[str | Path]) -> dict[str, str]:
    """``{str(path): sha256}``, reusing the index's hash of a file whose size and mtime are unchanged."""
    index = _load_index()
    out, changed = {}, False
    for p in map(Path, paths):
        real = str(p.resolve())
        st = os.stat(real)
        entry = index.get(real)
        if (entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns
                and entry.get("hashed_at_ns", 0) - st.st_mtime_ns >= RACY_SECONDS * 1e9):
            out[str(p)] = entry["sha256"]
            continue
        hashed_at = time.time_ns()
        sha = sha256_file(real)
        logger.debug("hashed %s (%d bytes)", real, st.st_size)
        index[real] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "hashed_at_ns": hashed_at, "sha256": sha}
        out[str(p)] = sha
        changed = True
    if changed:
        _save_index(index)
    return out


def _combine(named: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, sha in sorted(named.items()):
        digest.update(f"{name}:{sha}\n".encode())
    return digest.hexdigest()


def model_files(folder: str | Path, gguf_file: str | None = None) -> list[Path]:
    """The files of a model folder that can change an answer: weights in the format that will be loaded,
    config, generation config, tokenizer and chat template (top level; not READMEs, not hidden files)."""
    files = [p for p in sorted(Path(folder).iterdir())
             if p.is_file() and not p.name.startswith(".") and p.suffix.lower() != ".md"]
    if gguf_file:
        files = [p for p in files if p.suffix != ".gguf" or p.name == gguf_file]
    elif any(p.suffix == ".safetensors" for p in files):
        files = [p for p in files if p.suffix not in OTHER_WEIGHTS]
    return files


def folder_sha256(folder: str | Path, gguf_file: str | None = None) -> str:
    files = model_files(folder, gguf_file)
    if not files:
        raise FileNotFoundError(f"{folder}: no model files")
    return _combine({Path(k).name: v for k, v in files_sha256(files).items()})


def adapter_sha256(adapter: str | Path) -> str:
    """SHA-256 over the adapter's weights and adapter_config.json (rank, alpha, targets)."""
    folder = Path(adapter)
    files = [folder / n for n in ADAPTER_FILES if (folder / n).is_file()]
    if not any(f.name.startswith("adapter_model") for f in files):
        raise FileNotFoundError(f"{folder}: no adapter_model.safetensors (is this a LoRA adapter folder?)")
    return _combine({Path(k).name: v for k, v in files_sha256(files).items()})


def hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit a Hub revision points at (itself a content hash of the repo), from the local cache or the Hub."""
    if revision and COMMIT.match(revision):
        return revision
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True)).name
    except Exception:  # noqa: BLE001 - not in the local cache: ask the Hub
        pass
    try:
        from huggingface_hub import HfApi

        return HfApi().model_info(repo_id, revision=revision).sha
    except Exception as e:  # noqa: BLE001 - offline and not cached: the load will fail anyway
        logger.warning("cannot resolve %s@%s to a commit (%s); the answer cache keys it by name", repo_id,
                       revision, e)
        return None


def chat_template_sha256(folder: str | Path) -> str | None:
    """SHA-256 of the chat template a tokenizer in ``folder`` will use (chat_template.jinja, else the
    ``chat_template`` of tokenizer_config.json), or None when there is none to read."""
    folder = Path(folder)
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return hashlib.sha256(jinja.read_bytes()).hexdigest()
    config = folder / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        if template:
            return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return None


def config_dtype(folder: str | Path) -> str | None:
    config = Path(folder) / "config.json"
    if not config.is_file():
        return None
    raw = json.loads(config.read_text(encoding="utf-8"))
    return raw.get("dtype") or raw.get("torch_dtype")
