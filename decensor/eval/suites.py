"""Evaluation suites (eval/suites/*.jsonl): loading, validation and selection.

A row's ``kind`` is its suite: sensitive, innocent, harmful or control. Every prompt comes as a
language pair (en + zh, optionally zh-Hant) sharing a ``pair_id``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decensor.data.jsonl import DataError, combined_sha256, jsonl_files, read_jsonl
from decensor.data.topics import KINDS, load_topics
from decensor.paths import EVAL_DIR

SUITES_DIR = EVAL_DIR / "suites"
LANGS = ("en", "zh", "zh-Hant")


@dataclass(frozen=True)
class KeyFact:
    fact: str
    any: tuple[str, ...]


@dataclass(frozen=True)
class FalseClaim:
    """A known false or denialist claim; stated when any of ``any`` appears (after judge normalisation)."""

    claim: str
    any: tuple[str, ...]


@dataclass(frozen=True)
class EvalPrompt:
    id: str
    pair_id: str
    lang: str
    topic: str
    kind: str
    prompt: str
    key_facts: tuple[KeyFact, ...] = field(default_factory=tuple)
    false_claims: tuple[FalseClaim, ...] = field(default_factory=tuple)


def parse_row(row: dict, path: Path, line: int) -> EvalPrompt:
    for name in ("id", "pair_id", "lang", "topic", "kind", "prompt"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            raise DataError(path, line, "missing or empty", field=name)
    if row["kind"] not in KINDS:
        raise DataError(path, line, f"{row['kind']!r} is not one of {KINDS}", field="kind")
    if row["lang"] not in LANGS:
        raise DataError(path, line, f"{row['lang']!r} is not one of {LANGS}", field="lang")
    topics = load_topics()
    if row["topic"] not in topics:
        raise DataError(path, line, f"unknown topic {row['topic']!r} (see data/topics.yaml)", field="topic")
    facts = []
    for i, fact in enumerate(row.get("key_facts") or []):
        if not isinstance(fact, dict) or not fact.get("fact") or not fact.get("any"):
            raise DataError(path, line, f"key_facts[{i}] needs 'fact' and a non-empty 'any' list", field="key_facts")
        facts.append(KeyFact(fact["fact"], tuple(str(s) for s in fact["any"])))
    if row["kind"] in ("sensitive", "control") and not facts:
        raise DataError(path, line, f"{row['kind']} prompts need key_facts", field="key_facts")
    claims = []
    for i, claim in enumerate(row.get("false_claims") or []):
        if not isinstance(claim, dict) or not claim.get("claim") or not claim.get("any"):
            raise DataError(path, line, f"false_claims[{i}] needs 'claim' and a non-empty 'any' list",
                            field="false_claims")
        claims.append(FalseClaim(claim["claim"], tuple(str(s) for s in claim["any"])))
    return EvalPrompt(row["id"], row["pair_id"], row["lang"], row["topic"], row["kind"], row["prompt"], tuple(facts),
                      tuple(claims))


def suite_files(paths: Sequence[str | Path] | None = None) -> list[Path]:
    return jsonl_files(paths or [SUITES_DIR])


def load_suites(paths: Sequence[str | Path] | None = None) -> list[EvalPrompt]:
    """All prompts of the given files/folders (default: eval/suites), validated; ids must be unique."""
    prompts: list[EvalPrompt] = []
    seen: dict[str, str] = {}
    for path in suite_files(paths):
        for line, row in read_jsonl(path):
            p = parse_row(row, path, line)
            if p.id in seen:
                raise DataError(path, line, f"duplicate id {p.id!r} (first in {seen[p.id]})", field="id")
            seen[p.id] = f"{path}:{line}"
            prompts.append(p)
    return prompts


def suites_hash(paths: Sequence[str | Path] | None = None) -> str:
    return combined_sha256(suite_files(paths))


def select(prompts: Sequence[EvalPrompt], kinds: Sequence[str] | None = None, langs: Sequence[str] | None = None,
           pairs_per_topic: int | None = None, seed: int = 0) -> list[EvalPrompt]:
    """Filter by kind and language; optionally keep ``pairs_per_topic`` whole pairs per topic (a fixed,
    seeded choice, so base and tuned models see the same slice)."""
    chosen = [p for p in prompts if (kinds is None or p.kind in kinds) and (langs is None or p.lang in langs)]
    if pairs_per_topic is None:
        return chosen
    pairs_by_topic: dict[str, list[str]] = defaultdict(list)
    for p in chosen:
        if p.pair_id not in pairs_by_topic[p.topic]:
            pairs_by_topic[p.topic].append(p.pair_id)
    rng = random.Random(seed)
    keep = set()
    for topic in sorted(pairs_by_topic):
        ids = sorted(pairs_by_topic[topic])
        keep.update(rng.sample(ids, min(pairs_per_topic, len(ids))))
    return [p for p in chosen if p.pair_id in keep]
