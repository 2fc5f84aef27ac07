"""A sentence classifier for Party framing in answers on innocent topics, fitted on our own labelled data.

Why: phrase lists catch the formulas they list. A one-sentence leak in new words ("Learning Chinese well is
the best way to understand the governance wisdom of the CPC") passes them. This model generalises from
examples instead of formulas; ``decensor eval judge-check --judge rules+model`` measures it with the rules.

Why it is opt-in (``--judge rules+model``), not the default: it learned "a general sentence about China" as
the mark of an inserted leak, so it also flags a small model's vague answers ("The Grand Canal is a major
waterway in China ...") that carry no framing. On written answer pairs it raises held-out recall on subtle
leaks; on the untuned demo model's innocent answers it raised the framing rate from 3% to 8% with almost no
true framing among the extra flags (those answers are now in the calibration set, cal-216 to cal-234). A
fix would train it on real model answers as negatives too.

What it is: TF-IDF over character 2-4-grams and word 1-2-grams of normalised sentences (``decensor.text``,
so Traditional and full-width spellings fold onto Simplified and ASCII), and a logistic regression
(scikit-learn, balanced class weights). Nothing is trained by hand-written code.

What it learns from (files in ``data/``, never the evaluation or judge-test sets):
- positives: each sentence of a rejected answer of type ``subtle-leak`` or ``propaganda-framing`` that is
  not also a sentence of its pair's chosen answer (for a subtle leak, exactly the inserted sentence);
- negatives: every sentence of the chosen answers and SFT answers on sensitive and innocent topics.

An answer is flagged when one of its sentences scores at least :data:`THRESHOLD` (0.7: chosen on the DPO pairs
and the calibration set, never on the judge-test set). The model is fitted once per process (a few
seconds) and identified by the SHA-256 of its training files, which goes into the judge's version, so
results say which data the judge learned from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from decensor.data.jsonl import combined_sha256, jsonl_files, read_jsonl
from decensor.eval.judges.matching import sentences
from decensor.paths import DATA_DIR
from decensor.text import normalize

log = logging.getLogger(__name__)

TRAINING_DIRS = (DATA_DIR / "dpo", DATA_DIR / "sft")
POSITIVE_TYPES = ("subtle-leak", "propaganda-framing")
CLEAN_KINDS = ("sensitive", "innocent")
THRESHOLD = 0.7
SEED = 0


@dataclass(frozen=True)
class FramingModel:
    pipeline: object   # sklearn Pipeline: features -> LogisticRegression
    data_sha256: str   # of the training files, in order
    n_positive: int
    n_negative: int

    def scores(self, sentences: list[str]) -> list[float]:
        """Probability of Party framing for each (normalised) sentence."""
        if not sentences:
            return []
        return [float(p) for p in self.pipeline.predict_proba(sentences)[:, 1]]

    def flagged(self, sentences: list[str]) -> list[tuple[str, float]]:
        """The sentences at or above :data:`THRESHOLD`, with their scores."""
        return [(s, p) for s, p in zip(sentences, self.scores(sentences)) if p >= THRESHOLD]


def training_sentences(paths=TRAINING_DIRS) -> tuple[list[str], list[int]]:
    """Labelled, de-duplicated sentences from DPO pairs and SFT rows (see the module docstring)."""
    def split(text: str) -> list[str]:
        return sentences(normalize(text))

    labelled: dict[tuple[str, int], None] = {}
    for path in jsonl_files(paths):
        for _, row in read_jsonl(path):
            if "chosen" in row:  # a DPO pair
                chosen = split(row["chosen"][-1]["content"])
                if row.get("kind") in CLEAN_KINDS:
                    labelled.update(dict.fromkeys((s, 0) for s in chosen))
                if row.get("rejected_type") in POSITIVE_TYPES:
                    same = set(chosen)
                    labelled.update(dict.fromkeys((s, 1) for s in split(row["rejected"][-1]["content"]) if s not in same))
            elif row.get("kind") in CLEAN_KINDS:  # an SFT row: every assistant turn is clean
                for m in row.get("messages", []):
                    if m.get("role") == "assistant":
                        labelled.update(dict.fromkeys((s, 0) for s in split(m["content"])))
    # a sentence labelled both ways (shared by a chosen and a rejected answer elsewhere) counts as clean
    positives = {s for s, y in labelled if y == 1} - {s for s, y in labelled if y == 0}
    texts = [s for s, y in labelled if y == 0] + sorted(positives)
    return texts, [0] * (len(texts) - len(positives)) + [1] * len(positives)


def data_sha256(paths=TRAINING_DIRS) -> str:
    """The training data's version: data.jsonl's combined hash of the files (content hashes from the
    generation index, reused while a file's size and mtime hold)."""
    return combined_sha256(jsonl_files(paths))


def fit(paths=TRAINING_DIRS) -> FramingModel:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    texts, labels = training_sentences(paths)
    if not 0 < sum(labels) < len(labels):
        raise ValueError(f"the framing model needs framed and clean sentences in {[str(p) for p in paths]}; "
                         f"found {sum(labels)} framed of {len(labels)}")
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=2))
    pipeline = make_pipeline(features, LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000,
                                                          random_state=SEED))
    pipeline.fit(texts, labels)
    model = FramingModel(pipeline, data_sha256(paths), sum(labels), len(labels) - sum(labels))
    log.info("framing model: %d framed and %d clean sentences, data %s", model.n_positive, model.n_negative,
             model.data_sha256[:12])
    return model


@lru_cache(maxsize=4)
def _cached(key: tuple[str, ...], digest: str) -> FramingModel:
    return fit(tuple(Path(p) for p in key))


def load(paths=TRAINING_DIRS) -> FramingModel:
    """The model for ``paths``, fitted once per process and data version."""
    paths = tuple(str(p) for p in paths)
    return _cached(paths, data_sha256(paths))
