"""SHA-256 of a file, read in chunks so a multi-GB shard never sits in memory (``hashlib.file_digest`` would
do this, but only from Python 3.11; the package supports 3.10)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
