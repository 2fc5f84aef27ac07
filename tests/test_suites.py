"""--suites: our JSONL (strict), plain text, CSV, foreign JSONL, and datasets folders, with missing fields
defaulted and the language detected; a mistyped path is an error, never an empty suite."""

import json

import pytest

from decensor.data.jsonl import DataError
from decensor.eval.suites import (EXTERNAL_TOPIC, SUITES_DIR, detect_lang, load_suites, suite_hashes, suite_files,
                                  suites_hash)

QUESTIONS = ["What happened in Beijing on 4 June 1989?", "台湾是一个国家吗？", "台灣是一個國家嗎？"]


@pytest.mark.parametrize("text, lang", [
    ("What happened in Beijing on 4 June 1989?", "en"),
    ("台湾是一个国家吗？", "zh"),
    ("台灣是一個國家嗎？", "zh-Hant"),
    ("六四事件中發生了什麼？", "zh-Hant"),
    ("请介绍一下天安门广场。", "zh"),
    ("Tell me about 天安门", "en"),          # mostly Latin letters
    ("什么是 Great Firewall？", "zh"),
])
def test_language_is_detected_by_script(text, lang):
    assert detect_lang(text) == lang


def test_plain_text_one_prompt_a_line(tmp_path):
    path = tmp_path / "audit.txt"
    path.write_text(QUESTIONS[0] + "\n\n" + QUESTIONS[1] + "\n" + QUESTIONS[2], encoding="utf-8")
    prompts = load_suites([path])
    assert [p.prompt for p in prompts] == QUESTIONS
    assert [p.lang for p in prompts] == ["en", "zh", "zh-Hant"]
    assert [p.id for p in prompts] == ["audit-00001", "audit-00002", "audit-00003"]
    assert all(p.pair_id == p.id and p.topic == EXTERNAL_TOPIC and p.kind == "sensitive" and not p.key_facts
               for p in prompts)


def test_csv_with_some_fields(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("question,kind,id,lang\n"
                    f"{QUESTIONS[0]},innocent,q1,\n"
                    f"\"{QUESTIONS[1]}, 简短回答\",,,\n", encoding="utf-8")
    first, second = load_suites([path])
    assert (first.id, first.kind, first.lang, first.prompt) == ("q1", "innocent", "en", QUESTIONS[0])
    assert (second.id, second.kind, second.lang) == ("set-00002", "sensitive", "zh")
    bad = tmp_path / "bad.csv"
    bad.write_text("question,kind\nHello?,political\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.csv:2: kind: 'political' is not one of"):
        load_suites([bad])
    none = tmp_path / "none.csv"
    none.write_text("body,kind\nHello?,innocent\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"none.csv:2: prompt: no prompt: expected one of the fields"):
        load_suites([none])


def test_foreign_jsonl_is_defaulted_ours_is_strict(tmp_path):
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text(json.dumps({"instruction": QUESTIONS[2], "category": "x"}, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    (p,) = load_suites([foreign])
    assert (p.prompt, p.lang, p.topic) == (QUESTIONS[2], "zh-Hant", EXTERNAL_TOPIC)
    ours = tmp_path / "ours.jsonl"  # has a pair_id: one of our rows, so nothing is defaulted
    ours.write_text(json.dumps({"id": "t-1-en", "pair_id": "t-1", "lang": "en", "kind": "sensitive",
                                "prompt": QUESTIONS[0]}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ours.jsonl:1: topic: missing or empty"):
        load_suites([ours])


def test_datasets_folders(tmp_path):
    import datasets

    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"prompt": QUESTIONS, "kind": ["sensitive", "innocent", "sensitive"]}).save_to_disk(
        str(saved))
    prompts = load_suites([saved])
    assert [p.prompt for p in prompts] == QUESTIONS and [p.kind for p in prompts][1] == "innocent"
    assert [p.id for p in prompts] == ["saved-00001", "saved-00002", "saved-00003"]

    parquet = tmp_path / "parquet"
    parquet.mkdir()
    datasets.Dataset.from_dict({"question": QUESTIONS[:2]}).to_parquet(str(parquet / "test-00000.parquet"))
    assert [p.lang for p in load_suites([parquet])] == ["en", "zh"]

    hashes = suite_hashes([saved, parquet])
    assert set(hashes) == {"saved", "parquet"} and all(len(h) == 64 for h in hashes.values())
    datasets.Dataset.from_dict({"prompt": QUESTIONS[:1]}).save_to_disk(str(tmp_path / "saved2"))
    assert suites_hash([tmp_path / "saved2"]) != suites_hash([saved])  # the content decides the hash


def test_a_mistyped_path_is_an_error_never_nothing(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_suites([tmp_path / "missing.txt"])
    with pytest.raises(DataError, match="no such file or folder"):
        load_suites(["./eval/suits"])
    # an owner/name that is neither a path nor a loadable dataset (offline here): an error naming it
    with pytest.raises(DataError, match=r"eval/suits: no such file or folder, and not a loadable Hugging Face"):
        load_suites(["eval/suits"])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="empty.txt: no prompts"):
        load_suites([empty])
    odd = tmp_path / "set.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unsupported suite file type '.xlsx'"):
        load_suites([odd])
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="no prompt files"):
        load_suites([tmp_path / "folder"])


def test_duplicate_ids_across_sources(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("Hello?\n")
    (tmp_path / "b" / "x.txt").write_text("Hi?\n")
    with pytest.raises(DataError, match=r"duplicate id 'x-00001'"):
        load_suites([tmp_path / "a", tmp_path / "b"])


def test_our_suites_load_as_before():
    prompts = load_suites()
    assert len(prompts) > 100 and all(p.topic != EXTERNAL_TOPIC for p in prompts)
    assert suite_files() == sorted(SUITES_DIR.glob("*.jsonl"))
    from decensor.data.jsonl import combined_sha256

    assert suites_hash() == combined_sha256(suite_files())  # results files of earlier runs still compare
