"""Evaluation suites: loading, validation and selection, from our JSONL or any prompt set.

Our suites (eval/suites/*.jsonl): a row's ``kind`` is its suite (sensitive, innocent, harmful or
control); every prompt comes as a language pair (en + zh, optionally zh-Hant) sharing a ``pair_id``,
and every field is checked.

Any other prompt set can be evaluated as well (``--suites``): plain text (one prompt a line), CSV with a
header, JSONL without our fields, a Hugging Face dataset id (``owner/name`` or ``owner/name:split``) or a
local dataset folder (``save_to_disk`` output, or parquet/JSON/CSV files, read with ``datasets``). The
prompt comes from the first of :data:`PROMPT_FIELDS` the rows have; missing fields are defaulted: ``id``
from the source's name and row number, ``pair_id`` = ``id``, ``lang`` detected from the script (en, zh,
or zh-Hant by OpenCC round trips), ``topic`` = :data:`EXTERNAL_TOPIC`, ``kind`` = ``sensitive``. A row
that has a ``pair_id`` is one of ours and is never defaulted. Fields that are present are validated, and
a path that does not exist (and is not a dataset) is an error, never an empty suite.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decensor.data.jsonl import DataError, files_sha256, read_jsonl
from decensor.data.topics import KINDS, load_topics
from decensor.paths import EVAL_DIR

SUITES_DIR = EVAL_DIR / "suites"
LANGS = ("en", "zh", "zh-Hant")
EXTERNAL_TOPIC = "external"     # the topic of prompts from outside our taxonomy (no key facts required)
DEFAULT_KIND = "sensitive"
PROMPT_FIELDS = ("prompt", "question", "text", "instruction", "input", "query", "goal", "content")
FILE_FORMATS = {".jsonl": "jsonl", ".txt": "text", ".csv": "csv"}
DATASET_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")  # a save_to_disk folder
DATA_FILES = (".parquet", ".arrow", ".json", ".jsonl", ".csv")
LATIN_WORD = re.compile(r"[A-Za-z]+")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?$")


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
    if row["topic"] not in topics and row["topic"] != EXTERNAL_TOPIC:
        raise DataError(path, line, f"unknown topic {row['topic']!r} (see data/topics.yaml)", field="topic")
    facts = []
    for i, fact in enumerate(row.get("key_facts") or []):
        if not isinstance(fact, dict) or not fact.get("fact") or not fact.get("any"):
            raise DataError(path, line, f"key_facts[{i}] needs 'fact' and a non-empty 'any' list", field="key_facts")
        facts.append(KeyFact(fact["fact"], tuple(str(s) for s in fact["any"])))
    if row["kind"] in ("sensitive", "control") and not facts and row["topic"] != EXTERNAL_TOPIC:
        raise DataError(path, line, f"{row['kind']} prompts need key_facts", field="key_facts")
    claims = []
    for i, claim in enumerate(row.get("false_claims") or []):
        if not isinstance(claim, dict) or not claim.get("claim") or not claim.get("any"):
            raise DataError(path, line, f"false_claims[{i}] needs 'claim' and a non-empty 'any' list",
                            field="false_claims")
        claims.append(FalseClaim(claim["claim"], tuple(str(s) for s in claim["any"])))
    return EvalPrompt(row["id"], row["pair_id"], row["lang"], row["topic"], row["kind"], row["prompt"], tuple(facts),
                      tuple(claims))


def detect_lang(text: str) -> str:
    """``en`` unless the text has more CJK characters than Latin words (a Chinese character is about a word);
    then ``zh-Hant`` when more characters are Traditional-only forms (changed by OpenCC t2s) than
    Simplified-only forms (changed by s2tw and s2hk), else ``zh``."""
    from decensor.text import is_cjk, script_counts  # OpenCC, loaded only for prompts without a lang

    if sum(map(is_cjk, text)) <= len(LATIN_WORD.findall(text)):
        return "en"
    counts = script_counts(text)
    return "zh-Hant" if counts["traditional"] > counts["simplified"] else "zh"


def complete_row(row: dict, source: str, number: int, path: str | Path, line: int) -> dict:
    """``row`` with missing fields defaulted (see the module docstring); our rows (with a ``pair_id``) as they are."""
    if "pair_id" in row:
        return row
    prompt_field = next((f for f in PROMPT_FIELDS if f in row), None)
    if prompt_field is None:
        raise DataError(path, line, f"no prompt: expected one of the fields {list(PROMPT_FIELDS)}, got "
                                    f"{sorted(row)}", field="prompt")
    prompt = row[prompt_field]
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(path, line, "missing or empty", field=prompt_field)
    out = {k: v for k, v in row.items() if v not in (None, "")}
    out["prompt"] = prompt
    out["id"] = str(out.get("id", f"{source}-{number:05d}"))
    out["pair_id"] = out["id"]
    out.setdefault("lang", detect_lang(prompt))
    out.setdefault("topic", EXTERNAL_TOPIC)
    out.setdefault("kind", DEFAULT_KIND)
    return out


class Source:
    """One prompt source: a file (jsonl, text, csv) or a dataset (Hub id or local folder)."""

    def __init__(self, kind: str, location: str | Path):
        self.kind, self.location = kind, location
        self.name = Path(location).name if kind != "hub" else str(location)
        self._dataset = None

    def _load_dataset(self):
        if self._dataset is None:
            import datasets

            if self.kind == "disk":
                ds = datasets.load_from_disk(str(self.location))
                split = None
            else:
                name, _, split = str(self.location).partition(":") if self.kind == "hub" else (str(self.location), "", "")
                try:
                    ds = datasets.load_dataset(name, split=split or None)
                except Exception as e:  # noqa: BLE001 - datasets raises many types; all mean "cannot load"
                    what = "no such file or folder, and not a loadable Hugging Face dataset" if self.kind == "hub" \
                        else "cannot load this folder with datasets"
                    raise DataError(self.location, None, f"{what} ({type(e).__name__}: {e})") from None
            if isinstance(ds, datasets.DatasetDict):
                splits = list(ds)
                pick = "test" if "test" in splits else (splits[0] if len(splits) == 1 else None)
                if pick is None:
                    raise DataError(self.location, None, f"several splits {splits}; name one as ID:SPLIT")
                ds = ds[pick]
            self._dataset = ds
        return self._dataset

    def sha256(self) -> str:
        if self.kind in FILE_FORMATS.values():
            return files_sha256([self.location])[str(self.location)]
        return hashlib.sha256(f"datasets-fingerprint:{self._load_dataset()._fingerprint}".encode()).hexdigest()

    def rows(self) -> Iterator[tuple[int, dict]]:
        """``(line or row number, row)`` in order."""
        if self.kind == "jsonl":
            yield from read_jsonl(self.location)
        elif self.kind == "text":
            with open(self.location, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if line.strip():
                        yield number, {"prompt": line.rstrip("\r\n")}
        elif self.kind == "csv":
            with open(self.location, encoding="utf-8-sig", newline="") as f:
                reader = csv.DictReader(f)
                for row in reader:
                    yield reader.line_num, {k: v for k, v in row.items() if k is not None}
        else:
            for number, row in enumerate(self._load_dataset(), 1):
                yield number, dict(row)


def _folder_sources(folder: Path) -> list[Source]:
    if any((folder / m).is_file() for m in DATASET_MARKERS):
        return [Source("disk", folder)]
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in FILE_FORMATS]
    if files:
        return [Source(FILE_FORMATS[p.suffix], p) for p in files]
    if any(p.suffix in DATA_FILES for p in folder.rglob("*")):
        return [Source("folder", folder)]
    raise DataError(folder, None, f"no prompt files ({', '.join(FILE_FORMATS)}) and not a dataset folder")


def suite_sources(paths: Sequence[str | Path] | None = None) -> list[Source]:
    """The sources ``paths`` name (default: eval/suites); a path that does not exist is an error."""
    sources: list[Source] = []
    for arg in paths or [SUITES_DIR]:
        p = Path(arg)
        if p.is_file():
            if p.suffix not in FILE_FORMATS:
                raise DataError(p, None, f"unsupported suite file type {p.suffix!r}; use {', '.join(FILE_FORMATS)}, "
                                         "or a dataset folder")
            sources.append(Source(FILE_FORMATS[p.suffix], p))
        elif p.is_dir():
            sources.extend(_folder_sources(p))
        elif HUB_ID.match(str(arg)) and not str(arg).startswith((".", "~")):
            sources.append(Source("hub", str(arg)))
        else:
            raise DataError(p, None, "no such file or folder")
    return sources


def suite_files(paths: Sequence[str | Path] | None = None) -> list[Path]:
    """The files among the suite sources (datasets have no single file)."""
    return [Path(s.location) for s in suite_sources(paths) if s.kind in FILE_FORMATS.values()]


def load_suites(paths: Sequence[str | Path] | None = None) -> list[EvalPrompt]:
    """All prompts of the given sources (default: eval/suites), validated; ids must be unique. A source
    without a single prompt is an error."""
    prompts: list[EvalPrompt] = []
    seen: dict[str, str] = {}
    for source in suite_sources(paths):
        stem = Path(source.name).stem if source.kind != "hub" else source.name.replace("/", "-").replace(":", "-")
        count = 0
        for line, row in source.rows():
            count += 1
            p = parse_row(complete_row(row, stem, count, source.location, line), source.location, line)
            if p.id in seen:
                raise DataError(source.location, line, f"duplicate id {p.id!r} (first in {seen[p.id]})", field="id")
            seen[p.id] = f"{source.location}:{line}"
            prompts.append(p)
        if not count:
            raise DataError(source.location, None, "no prompts")
    return prompts


def suite_hashes(paths: Sequence[str | Path] | None = None) -> dict[str, str]:
    """``{source name: sha256}``: file bytes, or a dataset's content fingerprint (``datasets``)."""
    return {s.name: s.sha256() for s in suite_sources(paths)}


def suites_hash(paths: Sequence[str | Path] | None = None) -> str:
    digest = hashlib.sha256()
    for name, sha in sorted(suite_hashes(paths).items()):
        digest.update(f"{name}:{sha}\n".encode())
    return digest.hexdigest()


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
