"""Text folding and Chinese script handling, one definition for every matcher in decensor.

:func:`normalize` is the folded form that the judges, key facts, false claims and every phrase list are
matched in:

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

:func:`compact` is a stricter key for exact-duplicate tests (letters, digits and CJK only; no script
folding, so a ``zh`` row and its ``zh-Hant`` twin stay distinct). Chinese script is handled by OpenCC (a
maintained converter library), never a hand-written table: :func:`to_simplified` folds Traditional to
Simplified, :func:`script_counts` measures how far a text is from being a fixed point of a conversion
(the round-trip test behind the ``zh`` / ``zh-Hant`` tag check in :mod:`decensor.data.validate`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
            or 0xF900 <= o <= 0xFAFF or 0x3040 <= o <= 0x30FF)


def cjk_share(text: str) -> float:
    """CJK characters / (CJK characters + alphabetic non-CJK characters); 0 for text with neither."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    other = sum(1 for ch in text if ch.isalpha() and not is_cjk(ch))
    return cjk / (cjk + other) if cjk + other else 0.0


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def convert(text: str, config: str) -> str:
    """OpenCC conversion (``t2s``, ``s2tw``, ``s2hk``, ...)."""
    return _converter(config).convert(text)


def _changed(text: str, converted: str) -> int:
    """CJK characters that a conversion changed (position by position; OpenCC keeps the length for these
    character-level configs, else characters are compared one by one)."""
    if len(converted) != len(text):
        return sum(1 for ch in text if is_cjk(ch) and convert(ch, "t2s") != ch)
    return sum(1 for a, b in zip(text, converted) if a != b and is_cjk(a))


def script_counts(text: str) -> dict[str, int]:
    """``cjk``: CJK characters; ``traditional``: characters that ``t2s`` changes (Traditional-only forms);
    ``simplified``: characters that both ``s2tw`` and ``s2hk`` change (forms neither Taiwan nor Hong Kong
    usage writes). A Simplified text is a fixed point of ``t2s``, a Traditional one of ``s2tw`` or ``s2hk``."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    if not cjk:
        return {"cjk": 0, "traditional": 0, "simplified": 0}
    trad = _changed(text, convert(text, "t2s"))
    simp = min(_changed(text, convert(text, "s2tw")), _changed(text, convert(text, "s2hk")))
    return {"cjk": cjk, "traditional": trad, "simplified": simp}


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC ``t2s``); text without Han characters is returned as is."""
    return convert(text, "t2s") if _HAN.search(text) else text


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


def compact(text: str) -> str:
    """NFKC, case-folded, only letters, digits and CJK kept (punctuation and whitespace dropped)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())
