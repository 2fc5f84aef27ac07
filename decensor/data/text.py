"""Tokens for similarity between prompts (the decontamination and near-duplicate checks): English content
words and Chinese character bigrams. Folding and script handling live in :mod:`decensor.text`.
"""

from __future__ import annotations

import re
import unicodedata

from decensor.text import compact, to_simplified

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
    norm = compact(to_simplified(text))
    if len(norm) < 2:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


