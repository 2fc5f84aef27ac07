"""Read JSON Lines files strictly: a bad line is an error naming the file and line, never skipped."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path


class DataError(ValueError):
    """Bad input, located: ``path:line: field: message``."""

    def __init__(self, path: str | Path, line: int | None, message: str, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)``; raise :class:`DataError` on a blank or malformed line."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                raise DataError(path, number, "blank line")
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, number, f"malformed JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict):
                raise DataError(path, number, f"expected a JSON object, got {type(row).__name__}")
            yield number, row


def jsonl_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to their ``*.jsonl`` files (sorted); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("*.jsonl")))
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(p, None, "no such file or folder")
    return out


def files_sha256(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each file, for run folders and result files."""
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def combined_sha256(paths: Iterable[str | Path]) -> str:
    digest = hashlib.sha256()
    for name, sha in sorted(files_sha256(paths).items()):
        digest.update(f"{Path(name).name}:{sha}\n".encode())
    return digest.hexdigest()
