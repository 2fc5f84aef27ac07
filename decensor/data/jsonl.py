"""Read JSON Lines files strictly: a bad line is an error naming the file and line, never skipped.

Lines are split on ``\n`` only (``\r\n`` is accepted): a U+2028/U+2029 or other Unicode line separator
inside a JSON string is content, not a line break (``str.splitlines`` would split there). Bytes that are
not UTF-8, blank lines and empty files are errors.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from decensor.generation.identity import files_sha256  # noqa: F401 - the one content hash of files (cached by size and mtime)


class DataError(ValueError):
    """Bad input, located: ``path:line: field: message``."""

    def __init__(self, path: str | Path, line: int | None, message: str, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        self.bare = message   # the message without its ``path:line: field:`` prefix
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


def split_lines(data: bytes) -> list[bytes]:
    """Lines of a JSONL file: split on ``\n`` only; a final newline does not start another line."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)``; raise :class:`DataError` on a missing or empty file, a blank line, bytes
    that are not UTF-8, or a line that is not one JSON object."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "no such file")
    data = path.read_bytes()
    if not data.strip():
        raise DataError(path, None, "empty file: no rows (delete it or add rows)")
    for number, raw in enumerate(split_lines(data), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(path, number, f"not valid UTF-8 (byte {err.start + 1} of the line); save the file as "
                                          f"UTF-8") from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
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
    """Expand folders to their ``*.jsonl`` files (sorted); keep files as given. A missing path or a folder
    without ``*.jsonl`` files is an error (never silently nothing)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise DataError(p, None, "folder has no *.jsonl files")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(p, None, "no such file or folder")
    return out


def combined_sha256(paths: Iterable[str | Path]) -> str:
    digest = hashlib.sha256()
    for name, sha in sorted(files_sha256(paths).items()):
        digest.update(f"{Path(name).name}:{sha}\n".encode())
    return digest.hexdigest()


def write_atomic(path: str | Path, text: str) -> None:
    """Write through a temporary file and rename, so a kill never leaves a half-written file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Write ``rows`` as JSON Lines (UTF-8, one object a line), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

