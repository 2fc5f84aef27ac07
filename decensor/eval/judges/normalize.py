"""One text normaliser for every matcher of the judges: refusal, official line, propaganda, balance,
key facts and false claims all see the same folded text, so a phrase list is written once, in one form.

``normalize(text)``:
- Unicode NFKC (full-width Latin letters, digits and punctuation become ASCII: ``，！？：；（）`` ->
  ``,!?:;()``; ``…`` -> ``...``; no-break and ideographic spaces -> space);
- curly, corner and guillemet quotes -> ``"``; curly apostrophes, primes and modifier letters -> ``'``;
  dashes -> ``-``; zero-width characters removed;
- Traditional Chinese folded to Simplified with OpenCC's maintained ``t2s`` tables (not a hand list);
- line separators (``\\r\\n``, U+2028, U+2029, U+0085) -> ``\\n``; other runs of whitespace -> one space,
  and spaces between two CJK characters dropped ("天安门 广场" == "天安门广场");
- case folded.

The ideographic full stop ``。`` and the enumeration comma ``、`` are kept (NFKC keeps them too): sentence
splitting relies on ``。``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

# after NFKC: what is left of quotes, apostrophes and dashes in other shapes
_QUOTES = "“”„‟〝〞〟«»「」『』﹁﹂﹃﹄＂"
_APOSTROPHES = "‘’‚‛′ʼʻ`´＇"
_DASHES = "‐‑‒–—―﹘﹣－"
_TABLE = str.maketrans({**{c: '"' for c in _QUOTES}, **{c: "'" for c in _APOSTROPHES},
                        **{c: "-" for c in _DASHES}, "\u200b": None, "\u200c": None, "\u200d": None,
                        "\u2060": None, "\ufeff": None, "\u00ad": None})
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\u0085\v\f]")
_SPACES = re.compile(r"[^\S\n]+")
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC ``t2s``); text without Han characters is returned as is."""
    return _t2s().convert(text) if _HAN.search(text) else text


def normalize(text: str) -> str:
    """The folded form every judge matcher works on (see the module docstring)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    text = to_simplified(text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _SPACES.sub(" ", text)
    text = _CJK_GAP.sub("", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return text.casefold().strip()


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
