"""`decensor data check`: the shipped data passes; each kind of broken file fails with file, line and field."""

from __future__ import annotations

import copy
import json

import pytest

from decensor.cli import main
from decensor.data.check import check_data
from decensor.data.dedup import jaccard, shingles
from decensor.data.stats import markdown_balance

EN_Q = "What did the 2018 amendment to China's constitution change about the presidency?"
EN_A = ("In March 2018 the National People's Congress voted 2,958 to 2 (with 3 abstentions) to amend the "
        "constitution and remove the limit of two consecutive five-year terms for the president and "
        "vice-president. The change allowed Xi Jinping to stay in office beyond 2023, and he began a third "
        "term as president in March 2023 after a third term as Party general secretary in October 2022. "
        "Officials said the change aligned the state post with the Party and military posts, which had no "
        "term limits. Critics, including some Chinese scholars and commentators whose posts were censored, "
        "said it ended the collective-leadership norms introduced after Mao and concentrated power in one "
        "person.")
ZH_Q = "2018年中国宪法修正案对国家主席的任期做了什么改变？"
ZH_A = ("2018年3月，全国人大以2958票赞成、2票反对、3票弃权通过宪法修正案，删去了国家主席、副主席"
        "“连续任职不得超过两届”的规定。这一修改使习近平可以在2023年后继续担任国家主席，他在2022年10月"
        "开始第三个中共中央总书记任期，并于2023年3月开始第三个国家主席任期。官方表示，此举是为了使国家"
        "主席职务与党和军队的职务保持一致，后两者本就没有任期限制。批评者，包括一些帖子遭删除的中国学者"
        "和评论人士认为，这结束了毛泽东之后确立的集体领导惯例，使权力集中于一人。")
SOURCES = ["Constitution of the People's Republic of China (2018 amendment)", "Reuters, 11 March 2018"]
EVAL_PROMPT = "How do Chinese high-speed trains compare in speed with Japan's Shinkansen?"


def sft_row(lang: str, num: int = 1, question: str | None = None) -> dict:
    pair_id = f"xi-term-limits-{num:03d}"
    q, a = (EN_Q, EN_A) if lang == "en" else (ZH_Q, ZH_A)
    return {"id": f"{pair_id}-{lang}", "pair_id": pair_id, "lang": lang, "topic": "xi-term-limits",
            "kind": "sensitive", "messages": [{"role": "user", "content": question or q},
                                              {"role": "assistant", "content": a}],
            "sources": list(SOURCES), "reviewer": "review:test"}


def dpo_row(sft: dict) -> dict:
    row = {k: v for k, v in sft.items() if k != "messages"}
    row.update(prompt=sft["messages"][:-1], chosen=sft["messages"][-1:],
               rejected=[{"role": "assistant", "content": "I'm sorry, but I can't discuss political topics."
                          if sft["lang"] == "en" else "作为一个AI助手，我无法讨论这个话题。"}],
               rejected_type="refusal")
    return row


def write(path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return str(path)


@pytest.fixture
def good(tmp_path):
    """A valid SFT + DPO pair and an unrelated eval suite; returns (sft rows, dpo rows, suites path, writer)."""
    sft = [sft_row("en"), sft_row("zh")]
    dpo = [dpo_row(r) for r in sft]
    suites = write(tmp_path / "suites" / "innocent.jsonl", [
        {"id": "ev-high-speed-rail-001-en", "pair_id": "ev-high-speed-rail-001", "lang": "en",
         "topic": "high-speed-rail", "kind": "innocent", "prompt": EVAL_PROMPT}])

    def check(sft_rows=None, dpo_rows=None):
        s = write(tmp_path / "sft" / "s.jsonl", sft if sft_rows is None else sft_rows)
        d = write(tmp_path / "dpo" / "d.jsonl", dpo if dpo_rows is None else dpo_rows)
        return check_data([s, d], suites=[suites], embedding=False), s, d

    return sft, dpo, suites, check


def messages_of(report) -> list[str]:
    return [str(e) for e in report.errors]


def test_shipped_data_passes(capsys):
    # the embedding signal needs the real model and minutes of CPU on a cold cache: `decensor data check` runs
    # it (and tests/test_decontam.py tests the check); here every other check runs on the shipped data
    report = check_data(embedding=False)
    assert report.sft and report.dpo
    assert report.ok, "data check failed on the shipped data:\n" + "\n".join(messages_of(report))


def test_good_files_pass(good):
    report, *_ = good[3]()
    assert report.ok, messages_of(report)
    assert len(report.sft) == 2 and len(report.dpo) == 2


def test_malformed_json_line(good):
    sft, _, _, check = good
    report, s, _ = check(sft_rows=[sft[0], '{"id": "xi-term-limits-001-zh", "lang": "zh",'])
    assert any(e.startswith(f"{s}:2: ") and "malformed JSON" in e for e in messages_of(report)), messages_of(report)


def test_missing_field(good):
    sft, _, _, check = good
    broken = copy.deepcopy(sft)
    del broken[1]["sources"]
    report, s, _ = check(sft_rows=broken)
    assert f"{s}:2: sources: missing required field" in messages_of(report)


def test_wrong_role_order(good):
    sft, _, _, check = good
    broken = copy.deepcopy(sft)
    broken[0]["messages"] = list(reversed(broken[0]["messages"]))
    report, s, _ = check(sft_rows=broken)
    assert any(e.startswith(f"{s}:1: messages: roles ['assistant', 'user'] are out of order")
               for e in messages_of(report)), messages_of(report)


def test_duplicate_prompt_and_id(good):
    sft, _, _, check = good
    extra = sft_row("en", num=2)
    extra["messages"][0]["content"] = EN_Q.upper() + "  "  # same prompt after normalisation
    dup_id = copy.deepcopy(sft[1])
    report, s, _ = check(sft_rows=sft + [extra, sft_row("zh", num=2, question="完全不同的问题：这位领导人的第三个任期从何时开始？"),
                                          dup_id])
    errors = messages_of(report)
    assert any(e.startswith(f"{s}:3: messages: duplicate prompt: same as {s}:1") for e in errors), errors
    assert any(e.startswith(f"{s}:5: id: duplicate id 'xi-term-limits-001-zh' (first at {s}:2)") for e in errors), errors


def test_near_duplicate_prompt(good):
    sft, _, _, check = good
    near = sft_row("en", num=2, question=EN_Q.replace("What did", "What exactly did"))
    zh = sft_row("zh", num=2, question="完全不同的问题：这位领导人的第三个任期从何时开始？")
    report, s, _ = check(sft_rows=sft + [near, zh])
    assert any(e.startswith(f"{s}:3: messages: near-duplicate prompt of {s}:1") for e in messages_of(report))


def test_eval_prompt_leak(good, tmp_path):
    sft, _, suites, check = good
    leaky = copy.deepcopy(sft)
    leaky[0]["messages"][0]["content"] = EVAL_PROMPT
    report, s, _ = check(sft_rows=leaky, dpo_rows=[dpo_row(r) for r in leaky])
    assert any(e.startswith(f"{suites}:1: prompt: is a training prompt: same as {s}:1")
               for e in messages_of(report)), messages_of(report)
    leaky[0]["messages"][0]["content"] = EVAL_PROMPT.replace("How do", "How exactly do")
    report, s, _ = check(sft_rows=leaky, dpo_rows=[dpo_row(r) for r in leaky])
    assert any(e.startswith(f"{suites}:1: prompt: paraphrases training prompt {s}:1") and "words" in e
               for e in messages_of(report)), messages_of(report)


def test_schema_details(good):
    sft, dpo, _, check = good
    broken = copy.deepcopy(sft)
    broken[0]["lang"] = "zh"                    # English text tagged zh (and id no longer matches)
    broken[1]["topic"] = "tea"                  # innocent topic on a sensitive row
    report, s, _ = check(sft_rows=broken)
    errors = messages_of(report)
    assert any(e.startswith(f"{s}:1: lang: tagged zh") for e in errors), errors
    assert any(e.startswith(f"{s}:1: id: ") for e in errors), errors
    assert any(e.startswith(f"{s}:2: topic: topic 'tea' is a innocent topic") for e in errors), errors

    bad_dpo = copy.deepcopy(dpo)
    bad_dpo[0]["chosen"][0]["content"] = "A different answer."
    bad_dpo[1]["rejected_type"] = "harmful-compliance"
    report, _, d = check(dpo_rows=bad_dpo)
    errors = messages_of(report)
    assert any(e.startswith(f"{d}:1: chosen: differs from the SFT answer") for e in errors), errors
    assert any(e.startswith(f"{d}:2: rejected_type: 'harmful-compliance' does not fit kind 'sensitive'")
               for e in errors), errors

    report, s, d = check(sft_rows=sft[:1], dpo_rows=dpo[:1])  # pair without its zh row
    assert any(e.startswith(f"{s}:1: pair_id: pair 'xi-term-limits-001' has no 'zh' row") for e in messages_of(report))


def test_cli_exit_codes_and_table(good, tmp_path, capsys):
    sft, _, suites, check = good
    check()
    s, d = str(tmp_path / "sft" / "s.jsonl"), str(tmp_path / "dpo" / "d.jsonl")
    assert main(["data", "check", s, d, "--suites", suites, "--no-embedding"]) == 0
    out = capsys.readouterr().out
    assert "xi-term-limits" in out and "innocent share" in out
    broken = copy.deepcopy(sft)
    del broken[0]["kind"]
    write(tmp_path / "sft" / "s.jsonl", broken)
    assert main(["data", "check", s, d, "--suites", suites, "--no-embedding"]) == 1
    captured = capsys.readouterr()
    assert f"{s}:1: kind: missing required field" in captured.out
    assert "3 errors" in captured.err  # the missing kind, and the DPO row and pair no longer agreeing with it
    assert main(["data", "stats", s, d, "--markdown"]) == 0
    assert "| sensitive | xi-term-limits |" in capsys.readouterr().out


def test_similarity_measure():
    a = shingles("What happened in Tiananmen Square in 1989?")
    assert jaccard(a, shingles("what happened in tiananmen square in 1989")) == 1.0
    assert jaccard(a, shingles("How do pandas breed in captivity?")) < 0.1
    assert markdown_balance([]).startswith("| kind | topic |")
