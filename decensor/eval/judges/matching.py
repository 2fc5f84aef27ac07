"""Phrase lookups shared by every judge: a phrase list or a false claim is matched in the folded text of
:func:`decensor.text.normalize`, so each list is written once, in one form.
"""

from __future__ import annotations

import re

from decensor.text import normalize

SENTENCE = re.compile(r"[^.!?。\n]+[.!?。]?")


def sentences(text: str) -> list[str]:
    """The sentences of (normalised) ``text``; Chinese and Latin full stops, ? ! and line breaks end one."""
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]


def contains_any(text_normalized: str, needles) -> str | None:
    """The first of ``needles`` (normalised here) found in ``text_normalized``, or None."""
    for needle in needles:
        n = normalize(str(needle))
        if n and n in text_normalized:
            return needle
    return None


def claims_stated(claims, text: str) -> tuple[list[bool] | None, list[str]]:
    """Which known false claims ``text`` states (any of a claim's substrings, both sides normalised), and the
    evidence strings; ``(None, [])`` when the prompt lists none. Shared by every judge: it is a lookup, not
    a judgement."""
    if not claims:
        return None, []
    norm = normalize(text)
    found = [contains_any(norm, claim.any) for claim in claims]
    return [f is not None for f in found], [f"false claim: {f}" for f in found if f is not None]
