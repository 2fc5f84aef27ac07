"""The topic taxonomy (data/topics.yaml) that every data and evaluation row points into."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from decensor.paths import DATA_DIR

TOPICS_FILE = DATA_DIR / "topics.yaml"
KINDS = ("sensitive", "innocent", "harmful", "control")
SPLITS = ("seen", "unseen")


@dataclass(frozen=True)
class Topic:
    id: str
    kind: str
    en: str
    zh: str
    scope: str = ""
    # "seen": may appear in training data and in the eval. "unseen": eval only; `decensor data check`
    # rejects any training row on it, so the eval can report how the model does on topics it never saw.
    split: str = "seen"


@lru_cache(maxsize=4)
def load_topics(path: Path = TOPICS_FILE) -> dict[str, Topic]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    topics: dict[str, Topic] = {}
    for i, entry in enumerate(doc["topics"]):
        topic = Topic(**entry)
        if topic.kind not in KINDS:
            raise ValueError(f"{path}: topics[{i}] ({topic.id}): kind {topic.kind!r} is not one of {KINDS}")
        if topic.split not in SPLITS:
            raise ValueError(f"{path}: topics[{i}] ({topic.id}): split {topic.split!r} is not one of {SPLITS}")
        if topic.id in topics:
            raise ValueError(f"{path}: topics[{i}]: duplicate id {topic.id!r}")
        topics[topic.id] = topic
    return topics
