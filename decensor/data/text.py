"""Text helpers shared by the data checks: normalisation, CJK detection, script folding, tokens for similarity.

Chinese script is handled by OpenCC (a maintained converter library), never a hand-written table:
:func:`to_simplified` folds Traditional to Simplified for matching, and :func:`script_counts` measures
how far a text is from being a fixed point of a conversion (the round-trip test behind the ``zh`` /
``zh-Hant`` tag check in :mod:`decensor.data.validate`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
            or 0xF900 <= o <= 0xFAFF or 0x3040 <= o <= 0x30FF)


def cjk_share(text: str) -> float:
    """CJK characters / (CJK characters + alphabetic non-CJK characters); 0 for text with neither."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    other = sum(1 for ch in text if ch.isalpha() and not is_cjk(ch))
    return cjk / (cjk + other) if cjk + other else 0.0


def normalise(text: str) -> str:
    """NFKC, case-folded, only letters, digits and CJK kept (punctuation and whitespace dropped)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def convert(text: str, config: str) -> str:
    """OpenCC conversion (``t2s``, ``s2tw``, ``s2hk``, ...)."""
    return _converter(config).convert(text)


def to_simplified(text: str) -> str:
    """Traditional -> Simplified (OpenCC ``t2s``); Simplified text is returned unchanged."""
    return convert(text, "t2s")


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


# ------------------------------------------------------------------------------- similarity tokens

# English function words and the words every question has; removed before content-word matching.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before being below
between both but by can cannot could did didn do does doesn doing don down during each either else ever few
for from further had has have having he her here hers herself him himself his how i if in into is isn it its
itself just let me more most much my myself no nor not now of off on once only or other ought our ours
ourselves out over own per please same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up upon us very was wasn we were weren what
when where whether which while who whom whose why will with within without would you your yours yourself
yourselves tell explain describe give say said know like one ones way ways thing things many really get got
""".split())
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def lemma(word: str) -> str:
    """A light English lemmatiser: possessives, plurals and the commonest verb endings."""
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl, min_len in (("ies", "y", 5), ("sses", "ss", 5), ("ing", "", 6), ("ied", "y", 5),
                                  ("ed", "", 5), ("es", "", 5), ("s", "", 4)):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith(("ss", "us", "is")):
            word = word[: len(word) - len(suffix)] + repl
            break
    return word


def content_words(text: str) -> frozenset[str]:
    """English content words: NFKC, case-folded, stopwords removed, lightly lemmatised."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return frozenset(lemma(w) for w in _WORD.findall(text) if w not in STOPWORDS and lemma(w) not in STOPWORDS)


def zh_bigrams(text: str) -> frozenset[str]:
    """Character bigrams of Chinese text folded to Simplified, over letters/digits/CJK only."""
    norm = normalise(to_simplified(text))
    if len(norm) < 2:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


__all__ = ["STOPWORDS", "cjk_share", "content_words", "convert", "is_cjk", "lemma", "normalise", "script_counts",
           "to_simplified", "zh_bigrams"]
