"""Decontamination by meaning: is an evaluation prompt a reworded training prompt?

For each evaluation prompt, its nearest training prompt (every user turn of every SFT row) is found
with several signals, each with a threshold chosen from data (:data:`THRESHOLDS`; how they were chosen
is in data/SCHEMA.md, and ``decensor data check --calibrate`` reprints the evidence):

- ``words`` (English): IDF-weighted Jaccard of content-word sets (stopwords removed, lightly lemmatised,
  :func:`decensor.data.text.content_words`);
- ``bigrams`` (Chinese, ``zh`` and ``zh-Hant`` together): IDF-weighted Jaccard of character bigrams
  after folding Traditional to Simplified with OpenCC;
- ``embedding`` (both): cosine similarity of mean-pooled hidden states of the offline Qwen model
  (:mod:`decensor.data.embed`), centred per language; skipped, loudly, when the model is not available;
- ``cross-lingual``: an evaluation pair shares one question in every language, so when one language of
  an evaluation pair is flagged against a training pair, its other languages are flagged against the
  same training pair.

A flagged pair is an error located at the evaluation prompt and naming the training prompt, both as
``file:line``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from decensor.data.text import content_words, zh_bigrams
from decensor.paths import DATA_DIR

LANG_GROUP = {"en": "en", "zh": "zh", "zh-Hant": "zh"}
LEXICAL_SIGNAL = {"en": "words", "zh": "bigrams"}
# Chosen from data (data/SCHEMA.md, "Decontamination thresholds"); keys: (signal, language group).
CALIBRATION_FILE = DATA_DIR / "calibration" / "paraphrase-pairs.jsonl"
THRESHOLDS: dict[tuple[str, str], float] = {
    ("words", "en"): 0.35,
    ("bigrams", "zh"): 0.20,
    ("embedding", "en"): 0.90,
    ("embedding", "zh"): 0.95,
}


@dataclass(frozen=True)
class Prompt:
    """One prompt with where it comes from (``path:line``) and its pair."""

    path: str
    line: int
    id: str
    pair_id: str
    lang: str
    topic: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def group(self) -> str:
        return LANG_GROUP.get(self.lang, self.lang)


def features(p: Prompt) -> frozenset[str]:
    return content_words(p.text) if p.group == "en" else zh_bigrams(p.text)


class LexicalIndex:
    """IDF-weighted Jaccard of feature sets, through an inverted index."""

    def __init__(self, docs: Sequence[frozenset[str]], corpus: Sequence[frozenset[str]]):
        df: Counter = Counter()
        for s in corpus:
            df.update(s)
        n = len(corpus)
        self.idf = defaultdict(lambda: math.log(n + 1), {w: math.log((n + 1) / c) for w, c in df.items()})
        self.docs = list(docs)
        self.weight = [sum(self.idf[w] for w in s) for s in self.docs]
        self.index: dict[str, list[int]] = defaultdict(list)
        for j, s in enumerate(self.docs):
            for w in s:
                self.index[w].append(j)

    def pair(self, a: frozenset[str], b: frozenset[str]) -> float:
        shared = sum(self.idf[w] for w in a & b)
        total = sum(self.idf[w] for w in a | b)
        return shared / total if total else 0.0

    def scores(self, query: frozenset[str]) -> dict[int, float]:
        shared: dict[int, float] = defaultdict(float)
        for w in query:
            for j in self.index.get(w, ()):
                shared[j] += self.idf[w]
        wq = sum(self.idf[w] for w in query)
        return {j: s / (wq + self.weight[j] - s) for j, s in shared.items() if wq + self.weight[j] - s > 0}


@dataclass
class Match:
    """An evaluation prompt, its nearest training prompt, and the scores that flag the pair."""

    eval: Prompt
    train: Prompt
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)   # "words 0.52 >= 0.45", "cross-lingual: ..."

    def describe(self) -> str:
        scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.scores.items()))
        return (f"paraphrases training prompt {self.train.where} ({self.train.id}): {'; '.join(self.reasons)}"
                + (f" [scores: {scores}]" if scores else ""))


@dataclass
class Nearest:
    """Per evaluation prompt and signal: the best training prompt overall, and on a different topic."""

    best: dict[str, tuple[float, int]] = field(default_factory=dict)          # signal -> (score, train index)
    other_topic: dict[str, float] = field(default_factory=dict)               # signal -> best score elsewhere


@dataclass
class DecontamResult:
    matches: list[Match]
    nearest: list[Nearest]
    evals: list[Prompt]
    train: list[Prompt]
    embedding_note: str | None = None     # why the embedding signal was skipped, if it was
    thresholds: dict = field(default_factory=lambda: dict(THRESHOLDS))
    means: dict = field(default_factory=dict)     # per-language (mean, std) of the embedding signal

    def flagged_by_lang(self) -> Counter:
        return Counter(m.eval.lang for m in self.matches)


def nearest_lexical(evals: Sequence[Prompt], train: Sequence[Prompt]) -> list[Nearest]:
    out = [Nearest() for _ in evals]
    for group, signal in LEXICAL_SIGNAL.items():
        t_idx = [j for j, t in enumerate(train) if t.group == group]
        e_idx = [i for i, e in enumerate(evals) if e.group == group]
        t_feat = [features(train[j]) for j in t_idx]
        e_feat = [features(evals[i]) for i in e_idx]
        index = LexicalIndex(t_feat, t_feat + e_feat)
        for i, q in zip(e_idx, e_feat):
            best, other = (0.0, -1), 0.0
            for k, s in index.scores(q).items():
                j = t_idx[k]
                if s > best[0]:
                    best = (s, j)
                if train[j].topic != evals[i].topic and s > other:
                    other = s
            out[i].best[signal] = best
            out[i].other_topic[signal] = other
    return out


def _unit(vecs):
    import numpy as np

    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)


def _standard(vecs, stats):
    """Standardised per dimension over the corpus, then unit length. Mean-pooled hidden states share a large
    common direction and a few dimensions with huge activations; without this every pair scores ~0.99
    (measured: unrelated pairs p50 0.96 after centring alone, 0.47 standardised)."""
    mean, std = stats
    return _unit((vecs - mean) / std)


def nearest_embedding(evals: Sequence[Prompt], train: Sequence[Prompt], nearest: list[Nearest],
                      embed=None, means: dict | None = None) -> str | None:
    """Adds the ``embedding`` signal to ``nearest``; returns why it was skipped (None when computed).
    ``means`` receives the per-language standardisation (mean, std) for :func:`calibrate`."""
    import numpy as np

    from decensor.data.embed import EmbeddingUnavailable, embed_texts

    embed = embed or embed_texts
    means = {} if means is None else means
    try:
        for group in LANG_GROUP.values():
            t_idx = [j for j, t in enumerate(train) if t.group == group]
            e_idx = [i for i, e in enumerate(evals) if e.group == group]
            if not t_idx or not e_idx:
                continue
            vecs = embed([train[j].text for j in t_idx] + [evals[i].text for i in e_idx], group)
            means[group] = (vecs.mean(axis=0, keepdims=True), vecs.std(axis=0, keepdims=True) + 1e-6)
            vecs = _standard(vecs, means[group])
            tv, ev = vecs[:len(t_idx)], vecs[len(t_idx):]
            sims = ev @ tv.T
            topics_t = np.array([train[j].topic for j in t_idx])
            for row, i in enumerate(e_idx):
                k = int(sims[row].argmax())
                nearest[i].best["embedding"] = (float(sims[row, k]), t_idx[k])
                other = sims[row][topics_t != evals[i].topic]
                nearest[i].other_topic["embedding"] = float(other.max()) if other.size else 0.0
    except EmbeddingUnavailable as err:
        for n in nearest:
            n.best.pop("embedding", None)
            n.other_topic.pop("embedding", None)
        return str(err)
    return None


def find_paraphrases(evals: Sequence[Prompt], train: Sequence[Prompt], thresholds: dict | None = None,
                     embedding: bool = True, embed=None) -> DecontamResult:
    """Every evaluation prompt whose nearest training prompt is above a threshold, plus the other languages
    of its evaluation pair (cross-lingual)."""
    thresholds = dict(THRESHOLDS, **(thresholds or {}))
    evals, train = list(evals), list(train)
    nearest = nearest_lexical(evals, train)
    means: dict = {}
    note = nearest_embedding(evals, train, nearest, embed, means) if embedding else "turned off (--no-embedding)"
    matches: dict[int, Match] = {}
    for i, (e, n) in enumerate(zip(evals, nearest)):
        for signal, (score, j) in sorted(n.best.items()):
            limit = thresholds.get((signal, e.group))
            if j < 0 or limit is None or score < limit:
                continue
            m = matches.get(i)
            if m is None:
                m = matches[i] = Match(e, train[j])
            if train[j].id != m.train.id:
                m.reasons.append(f"{signal} {score:.2f} >= {limit} (with {train[j].where})")
            else:
                m.reasons.append(f"{signal} {score:.2f} >= {limit}")
        if i in matches:
            matches[i].scores = {s: v for s, (v, _) in n.best.items()}
    # cross-lingual: the other languages of a flagged evaluation pair, against the same training pair
    by_pair: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(evals):
        by_pair[e.pair_id].append(i)
    train_by_pair_lang = {(t.pair_id, t.lang): t for t in train}
    for i, m in list(matches.items()):
        for k in by_pair[m.eval.pair_id]:
            if k in matches:
                continue
            other = evals[k]
            partner = (train_by_pair_lang.get((m.train.pair_id, other.lang))
                       or train_by_pair_lang.get((m.train.pair_id, "zh" if other.group == "zh" else other.lang))
                       or m.train)
            matches[k] = Match(other, partner, {s: v for s, (v, _) in nearest[k].best.items()},
                               [f"cross-lingual: its {m.eval.lang} version {m.eval.where} is flagged against "
                                f"pair {m.train.pair_id}"])
    ordered = [matches[i] for i in sorted(matches, key=lambda i: (evals[i].path, evals[i].line))]
    return DecontamResult(ordered, nearest, evals, train, note, thresholds, means)


# ------------------------------------------------------------------------------------ calibration

def load_pairs(path=None) -> list[dict]:
    """Labelled prompt pairs (data/calibration/paraphrase-pairs.jsonl): ``a``, ``b``, ``lang``, ``label``
    (``paraphrase`` or ``different``), ``origin``."""
    from decensor.data.jsonl import read_jsonl

    return [row for _, row in read_jsonl(path or CALIBRATION_FILE)]


def _percentiles(values: Sequence[float]) -> str:
    if not values:
        return "n=0"
    v = sorted(values)

    def q(p):
        return v[min(len(v) - 1, int(p * len(v)))]

    return f"n={len(v)} min {v[0]:.2f} p10 {q(0.1):.2f} p50 {q(0.5):.2f} p90 {q(0.9):.2f} max {v[-1]:.2f}"


def calibrate(result: DecontamResult, pairs: Sequence[dict], embed=None, means: dict | None = None) -> list[str]:
    """Score distributions per signal and language: known paraphrases, labelled different questions on the
    same topic, and every evaluation prompt's nearest training prompt on another topic (unrelated pairs);
    with each threshold's recall on the known paraphrases and share of unrelated pairs above it."""
    lines = []
    corpus = {g: [features(p) for p in result.train + result.evals if p.group == g] for g in LEXICAL_SIGNAL}
    indexes = {g: LexicalIndex([], c) for g, c in corpus.items()}
    scored: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    caught: dict[int, bool] = {}     # pair index -> some signal at or above its threshold
    for k, pair in enumerate(pairs):
        group = LANG_GROUP.get(pair["lang"], pair["lang"])
        fa, fb = (features(Prompt("", 0, "", "", pair["lang"], "", pair[x])) for x in ("a", "b"))
        score = indexes[group].pair(fa, fb)
        scored[(LEXICAL_SIGNAL[group], group)][pair["label"]].append(score)
        caught[k] = score >= result.thresholds.get((LEXICAL_SIGNAL[group], group), 2.0)
    if means:
        from decensor.data.embed import embed_texts

        embed = embed or embed_texts
        for group in means:
            sel = [k for k, p in enumerate(pairs) if LANG_GROUP.get(p["lang"]) == group]
            if not sel:
                continue
            va = _standard(embed([pairs[k]["a"] for k in sel], group), means[group])
            vb = _standard(embed([pairs[k]["b"] for k in sel], group), means[group])
            for k, sim in zip(sel, (va * vb).sum(axis=1)):
                scored[("embedding", group)][pairs[k]["label"]].append(float(sim))
                caught[k] = caught[k] or float(sim) >= result.thresholds.get(("embedding", group), 2.0)
    for n, e in zip(result.nearest, result.evals):
        for signal, score in n.other_topic.items():
            scored[(signal, e.group)]["unrelated"].append(score)
    for (signal, group), by_label in sorted(scored.items()):
        limit = result.thresholds.get((signal, group))
        lines.append(f"{signal} ({group}), threshold {limit}:")
        for label in ("paraphrase", "different", "unrelated"):
            values = by_label.get(label, [])
            above = sum(1 for v in values if limit is not None and v >= limit)
            what = {"paraphrase": "known paraphrases", "different": "same topic, different question",
                    "unrelated": "nearest training prompt on another topic"}[label]
            lines.append(f"  {what:40s} {_percentiles(values)}; >= threshold: {above}/{len(values)}")
    for group in sorted({LANG_GROUP.get(p["lang"], p["lang"]) for p in pairs}):
        for label in ("paraphrase", "different"):
            sel = [k for k, p in enumerate(pairs) if LANG_GROUP.get(p["lang"]) == group and p["label"] == label]
            if sel:
                lines.append(f"any signal ({group}): {sum(caught[k] for k in sel)}/{len(sel)} labelled {label} pairs "
                             f"flagged")
    return lines


__all__ = ["DecontamResult", "LANG_GROUP", "LexicalIndex", "Match", "calibrate", "load_pairs", "Prompt", "THRESHOLDS", "features",
           "find_paraphrases", "nearest_lexical"]
