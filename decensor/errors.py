"""Errors a user can fix, reported by the command line as one line: ``path:line:field: what is wrong; what to do``.

Library code raises :class:`UserError` (or a subclass) for a mistake in what the user gave: a file, a path,
a value. The ``decensor`` command catches these in one place (:func:`decensor.cli.main`) and prints the one
line; ``decensor -v`` adds the traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A mistake in the user's input, located by ``path``, ``line`` and ``field`` when known, with a ``hint``."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None, hint: str | None = None):
        self.message, self.path, self.line, self.field, self.hint = message, path, line, field, hint
        super().__init__(self.format())

    def location(self) -> str:
        where = str(self.path) if self.path is not None else ""
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where = f"{where}:{self.field}" if where else self.field
        return where

    def format(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        return f"{text}; {self.hint}" if self.hint else text


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run that saves its progress: ``saved`` says where, for the resume hint."""

    def __init__(self, saved: str):
        self.saved = saved
        super().__init__(saved)


def decode_utf8(data: bytes, path: str | Path) -> str:
    """``data`` as UTF-8 text, or a :class:`UserError` naming the file, line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[:err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise UserError(f"not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column})", path=path, line=line,
                        hint="save the file as UTF-8") from None


def read_utf8(path: str | Path) -> str:
    """Read a text file as UTF-8; a missing file or invalid UTF-8 is a :class:`UserError`."""
    path = Path(path)
    if path.is_dir():
        raise UserError("is a folder, not a file", path=path, hint="give the file inside it")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError("no such file", path=path, hint="check the path") from None
    return decode_utf8(data, path)
