"""Decontamination by meaning: a reworded training prompt placed in the evaluation fails `data check`, in both
languages of its pair; unrelated prompts pass; a missing embedding model is said loudly, not ignored."""

from __future__ import annotations

import json

import pytest

from decensor.cli import main
from decensor.data.check import check_data, write_paraphrase_list
from decensor.data.decontam import Prompt, calibrate, find_paraphrases, load_pairs
from test_validate import dpo, sft

# a training question (test_validate's pair) reworded the way the leaks in issue 11 were
REWORDED_EN = "When did Taiwan's martial law come to an end, and how long had it lasted?"
REWORDED_ZH = "台湾是在哪一年终于解除戒严令、结束紧急统治时期的？"     # shares few bigrams with the training zh
UNRELATED = [("en", "How is oolong tea processed after picking?"), ("zh", "乌龙茶采摘以后要经过哪些加工步骤？")]


def write(path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def eval_row(pair: str, lang: str, prompt: str, topic: str = "tea", kind: str = "innocent") -> dict:
    return {"id": f"ev-{pair}-{lang}", "pair_id": f"ev-{pair}", "lang": lang, "topic": topic, "kind": kind,
            "prompt": prompt}


@pytest.fixture
def data(tmp_path):
    rows = [sft("en"), sft("zh")]
    s = write(tmp_path / "sft" / "a.jsonl", rows)
    d = write(tmp_path / "dpo" / "a.jsonl", [dpo(r) for r in rows])
    return s, d


def test_reworded_training_prompt_in_the_eval_fails(data, tmp_path, capsys):
    s, d = data
    suite = write(tmp_path / "suites" / "innocent.jsonl",
                  [eval_row("tea-001", lang, p) for lang, p in UNRELATED]
                  + [eval_row("leak-001", "en", REWORDED_EN, "tea"), eval_row("leak-001", "zh", REWORDED_ZH, "tea")])
    report = check_data([s, d], suites=[suite], embedding=False)
    errors = [str(e) for e in report.errors]
    assert any(e.startswith(f"{suite}:3: prompt: paraphrases training prompt {s}:1 (taiwan-democracy-001-en): words")
               for e in errors), errors
    # the zh version is caught through its pair id, against the zh row of the training pair
    assert any(e.startswith(f"{suite}:4: prompt: paraphrases training prompt {s}:2 (taiwan-democracy-001-zh): "
                            f"cross-lingual") for e in errors), errors
    assert not any(e.startswith((f"{suite}:1:", f"{suite}:2:")) for e in errors), errors
    assert report.decontam.flagged_by_lang() == {"en": 1, "zh": 1}
    listing = tmp_path / "paraphrases.txt"
    assert write_paraphrase_list(report, listing) == 2
    text = listing.read_text(encoding="utf-8")
    assert f"{suite}:3\tev-leak-001-en\t{s}:1\ttaiwan-democracy-001-en" in text and REWORDED_ZH in text

    code = main(["data", "check", s, d, "--suites", suite, "--no-embedding", "--no-table", "--calibrate"])
    out = capsys.readouterr()
    assert code == 1
    assert "paraphrases: 2 of 4 evaluation prompts paraphrase a training prompt (en 1, zh 1, zh-Hant 0)" in out.out
    assert "known paraphrases" in out.out and "WITHOUT the embedding signal" in out.err


def test_without_the_embedding_model_the_signal_is_skipped_loudly(data, tmp_path, monkeypatch):
    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "empty-cache"))
    s, d = data
    suite = write(tmp_path / "suites" / "innocent.jsonl", [eval_row("tea-001", lang, p) for lang, p in UNRELATED])
    report = check_data([s, d], suites=[suite])
    assert report.ok, [str(e) for e in report.errors]
    assert "decensor model fetch-demo" in report.decontam.embedding_note
    assert all("embedding" not in n.best for n in report.decontam.nearest)


def test_lexical_signals_separate_known_paraphrases_from_unrelated_pairs():
    """On the labelled pairs (data/calibration), known paraphrases score higher than unrelated prompts."""
    pairs = load_pairs()
    evals = [Prompt("e", i, f"e{i}", f"pe{i}", p["lang"], "x", p["a"]) for i, p in enumerate(pairs)]
    train = [Prompt("t", i, f"t{i}", f"pt{i}", p["lang"], "y" if i % 2 else "z", p["b"]) for i, p in enumerate(pairs)]
    result = find_paraphrases(evals, train, embedding=False)
    lines = calibrate(result, pairs)
    assert any(line.startswith("words (en)") for line in lines) and any(line.startswith("bigrams (zh)") for line in lines)
    for group in ("en", "zh"):
        para = sorted(n.best[{"en": "words", "zh": "bigrams"}[group]][0]
                      for n, p in zip(result.nearest, pairs) if p["lang"] == group and p["label"] == "paraphrase")
        other = [n.other_topic[{"en": "words", "zh": "bigrams"}[group]]
                 for n, p in zip(result.nearest, pairs) if p["lang"] == group]
        assert para[len(para) // 2] > sorted(other)[len(other) // 2]
