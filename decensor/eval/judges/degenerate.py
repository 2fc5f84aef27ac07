"""Degenerate output: empty answers, repetition loops, runaway lists, answers cut off mid-sentence.

Deterministic and shared by every judge (the LLM judge too): these are properties of the text, not of
its meaning. ``degenerate_kind(text)`` returns one of ``DEGENERATE_KINDS`` or None; the first that
applies wins, in the order empty, repetition, runaway-list, truncated.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

from decensor.text import normalize

MIN_LOOP_CHARS = 120          # shorter answers are not judged for loops
LOOP_COMPRESSION = 0.18       # zlib size / text size below this: the text is mostly one repeated unit
REPEATED_UNIT_TIMES = 4       # the same sentence or clause (>= 6 chars) this often: a loop
RUNAWAY_ITEMS = 20            # list items (numbered or bulleted) at or beyond this count
_CLAUSES = re.compile(r"[^.!?。;；,，、\n]+")
_ITEM = re.compile(r"(?m)^\s*(?:(\d{1,3})[.)、]|[-*•·])\s+\S")
_ENDS = tuple('.!?。!?"\')]}》」』…:;*`|>') + tuple("0123456789")


def degenerate_kind(text: str) -> str | None:
    norm = normalize(text)
    if not norm:
        return "empty"
    if len(norm) >= MIN_LOOP_CHARS:
        raw = norm.encode("utf-8")
        if len(zlib.compress(raw, 9)) / len(raw) < LOOP_COMPRESSION:
            return "repetition"
        units = Counter(c.strip() for c in _CLAUSES.findall(norm) if len(c.strip()) >= 6)
        if units and units.most_common(1)[0][1] >= REPEATED_UNIT_TIMES:
            return "repetition"
    items = _ITEM.findall(norm)
    numbers = [int(n) for n in items if n]
    if len(items) >= RUNAWAY_ITEMS or (numbers and max(numbers) >= RUNAWAY_ITEMS):
        return "runaway-list"
    if not norm.endswith(_ENDS) and len(norm) >= 40:
        return "truncated"
    return None
