"""Duplicates among training prompts, and exact train/eval leaks (surface form).

Exact duplicates: equal after normalisation (NFKC, case-folding, punctuation and whitespace removed).
Near duplicates: Jaccard similarity of character n-gram sets (:data:`NGRAM` = 3 characters for CJK-heavy
text, 5 otherwise) at or above :data:`NEAR_DUP_THRESHOLD` (0.5; from :data:`REVIEW_THRESHOLD` = 0.35 up a
warning). Calibrated on the shipped data: 0.5 and above were all the same question reworded; 0.35-0.5
are mostly close paraphrases but also different questions on the same narrow fact. Paraphrases of
*evaluation* prompts are found by meaning in :mod:`decensor.data.decontam`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from decensor.text import cjk_share, compact
from decensor.data.validate import Issue, Row

NEAR_DUP_THRESHOLD = 0.5   # Jaccard similarity of character n-gram sets: an error at or above this
REVIEW_THRESHOLD = 0.35    # ... a warning ("review: possible paraphrase") at or above this
NGRAM = {"cjk": 3, "latin": 5}


def shingles(text: str) -> frozenset[str]:
    norm = compact(text)
    n = NGRAM["cjk"] if cjk_share(norm) >= 0.5 else NGRAM["latin"]
    if len(norm) <= n:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + n] for i in range(len(norm) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_pairs(left: Sequence[frozenset], right: Sequence[frozenset] | None, threshold: float
               ) -> list[tuple[int, int, float]]:
    """Index pairs ``(i, j, similarity)`` with Jaccard >= threshold, via an inverted n-gram index.

    With ``right=None`` pairs within ``left`` (i < j) are returned.
    """
    same = right is None
    right = left if same else right
    index: dict[str, list[int]] = defaultdict(list)
    for j, s in enumerate(right):
        for g in s:
            index[g].append(j)
    out = []
    for i, s in enumerate(left):
        counts: Counter = Counter()
        for g in s:
            counts.update(index.get(g, ()))
        for j, inter in counts.items():
            if same and j <= i:
                continue
            sim = inter / (len(s) + len(right[j]) - inter)
            if sim >= threshold:
                out.append((i, j, sim))
    return out


def prompt_text(messages: list[dict]) -> str:
    """The user side of a conversation (all user turns), the text compared for duplicates."""
    return "\n".join(m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user")


def _messages_ok(row: Row) -> bool:
    msgs = row.data.get("messages")
    return isinstance(msgs, list) and bool(msgs) and all(isinstance(m, dict) for m in msgs)


def training_duplicates(rows: Sequence[Row], threshold: float = NEAR_DUP_THRESHOLD,
                        review: float = REVIEW_THRESHOLD) -> list[Issue]:
    """Exact and near-duplicate prompts among SFT rows (errors, warnings from ``review``), same answers (warnings)."""
    issues: list[Issue] = []
    train = [(r, prompt_text(r.data["messages"])) for r in rows if _messages_ok(r)]
    train = [(r, t) for r, t in train if t.strip()]
    exact: dict[str, Row] = {}
    for r, t in train:
        key = compact(t)
        if key in exact:
            issues.append(Issue(r.path, r.line, "messages", f"duplicate prompt: same as {exact[key].where} "
                                                            f"({exact[key].data.get('id')})"))
        else:
            exact[key] = r
    sh = [shingles(t) for _, t in train]
    for i, j, sim in near_pairs(sh, None, min(review, threshold)):
        a, b = train[i][0], train[j][0]
        if compact(train[i][1]) == compact(train[j][1]):
            continue  # reported as exact
        if sim >= threshold:
            issues.append(Issue(b.path, b.line, "messages", f"near-duplicate prompt of {a.where} ({a.data.get('id')}): "
                                                            f"Jaccard {sim:.2f} >= {threshold}"))
        else:
            issues.append(Issue(b.path, b.line, "messages", f"review: possible paraphrase of training prompt "
                                                            f"{a.where} ({a.data.get('id')}): Jaccard {sim:.2f}",
                                "warning"))
    answers: dict[str, Row] = {}
    for r, _ in train:
        key = compact(str(r.data["messages"][-1].get("content", "")))
        if key and key in answers:
            issues.append(Issue(r.path, r.line, "messages", f"same answer as {answers[key].where}", "warning"))
        answers.setdefault(key, r)
    return issues


__all__ = ["NEAR_DUP_THRESHOLD", "REVIEW_THRESHOLD", "jaccard", "near_pairs", "prompt_text", "shingles",
           "training_duplicates"]
