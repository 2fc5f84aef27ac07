"""Answers cached on disk, one JSONL file per fingerprint of everything that changes an answer.

The fingerprint's parts are built by :func:`decensor.generation.answers.cache_key` (backend, device,
dtype, content hashes of weights and adapter, chat template, generation settings) and written beside
the cache as ``<fingerprint>.meta.json``. A line is written and flushed after each batch, so a killed run
resumes without repeating a finished prompt. A line cut off by a crash (no trailing newline, or not
valid JSON) is dropped on the next open and the file is truncated back to its last whole line, so a
half-written line never corrupts the cache. Appends of whole lines from concurrent threads are
serialised by a lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from decensor.paths import cache_dir


def fingerprint(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def prompt_key(prompt_id: str, prompt: str | list[dict]) -> str:
    """A prompt's cache key changes when its text (or conversation) changes, so an edited prompt is answered again."""
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, ensure_ascii=False)
    return f"{prompt_id}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


class AnswerCache:
    def __init__(self, path: str | Path, meta: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.answers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._recover()
        if meta is not None:
            meta_path = self.path.with_suffix(".meta.json")
            if not meta_path.exists():
                meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False))

    @classmethod
    def for_run(cls, parts: dict, root: Path | None = None) -> AnswerCache:
        root = root or cache_dir() / "answers"
        return cls(root / f"{fingerprint(parts)}.jsonl", meta=parts)

    def _recover(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl == -1:
                break  # a last line without newline: cut off mid-write
            try:
                row = json.loads(data[pos:nl])
                self.answers[row["key"]] = row["answer"]
            except (ValueError, KeyError, TypeError):
                break  # a corrupt line: keep what came before it
            good_end = nl + 1
            pos = nl + 1
        if good_end != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good_end)

    def __contains__(self, key: str) -> bool:
        return key in self.answers

    def get(self, key: str) -> str | None:
        return self.answers.get(key)

    def add_many(self, items: list[tuple[str, str]]) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            for key, answer in items:
                f.write(json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n")
                self.answers[key] = answer
            f.flush()
            os.fsync(f.fileno())
