"""The one row validator (decensor.data.validate): schema v2 rows, script by OpenCC round trips, sources,
reviewer, unseen topics; the same function the training loader, mining and push-data call."""

from __future__ import annotations

import copy

import pytest

from decensor.data.jsonl import DataError
from decensor.text import convert
from decensor.data.validate import row_issues, source_quality, validate_row

ZH_Q = "台湾的戒严是什么时候结束的？"
ZH_A = ("台湾的戒严由国民党政府于1949年5月实施，蒋经国总统于1987年7月15日宣布解除，前后长达38年。戒严期间，政府禁止"
        "组织新政党、限制新办报纸，并以政治罪名起诉数以千计的人，这段时期被称为“白色恐怖”。")
EN_Q = "When did martial law end in Taiwan?"
EN_A = ("Martial law, imposed in May 1949, was lifted by President Chiang Ching-kuo on 15 July 1987 after 38 years; "
        "the period of political persecution is known as the White Terror.")
SPECIFIC = "Transitional Justice Commission (Taiwan), 'Final Report', May 2022"


def sft(lang="en", **over) -> dict:
    q, a = (EN_Q, EN_A) if lang == "en" else (ZH_Q, ZH_A)
    row = {"id": f"taiwan-democracy-001-{lang}", "pair_id": "taiwan-democracy-001", "lang": lang,
           "topic": "taiwan-democracy", "kind": "sensitive",
           "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
           "sources": [SPECIFIC], "reviewer": "review:test"}
    row.update(over)
    return row


def dpo(base: dict, **over) -> dict:
    row = {k: v for k, v in base.items() if k != "messages"}
    row.update(prompt=base["messages"][:-1], chosen=base["messages"][-1:],
               rejected=[{"role": "assistant", "content": "I'm sorry, but I can't discuss political topics."}],
               rejected_type="refusal")
    row.update(over)
    return row


def errors(row, stage="sft") -> list[str]:
    return [f"{i.field}: {i.message}" for i in row_issues(row, stage, "f.jsonl", 7) if i.level == "error"]


def test_valid_rows_pass():
    assert errors(sft("en")) == [] and errors(sft("zh")) == []
    assert errors(dpo(sft("en")), "dpo") == []
    hant = sft("zh-Hant", id="taiwan-democracy-001-zh-Hant",
               messages=[{"role": "user", "content": "臺灣的戒嚴是什麼時候結束的？"},
                         {"role": "assistant", "content": convert(ZH_A, "s2tw")}])
    assert errors(hant) == []


def test_script_must_match_the_tag():
    trad = convert(ZH_A, "s2tw")
    tagged_zh = sft("zh", messages=[{"role": "user", "content": convert(ZH_Q, "s2tw")},
                                    {"role": "assistant", "content": trad}])
    assert any(e.startswith("lang: tagged zh (Simplified) but") for e in errors(tagged_zh)), errors(tagged_zh)
    simp_as_hant = sft("zh-Hant", id="taiwan-democracy-001-zh-Hant")
    assert any(e.startswith("lang: tagged zh-Hant (Traditional) but") for e in errors(simp_as_hant))
    english_as_zh = dict(sft("en"), lang="zh", id="taiwan-democracy-001-zh")
    assert any(e.startswith("lang: tagged zh but only") for e in errors(english_as_zh))


@pytest.mark.parametrize("messages, expected", [
    ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}], "out of order"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}], "has empty content"),
    ([{"role": "user", "content": "q"}], "must end with a assistant message"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "system", "content": "s"}],
     "out of order"),
    ([{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a"}],
     "out of order"),
])
def test_role_order_and_empty_turns(messages, expected):
    assert any(expected in e for e in errors(sft("en", messages=messages, kind="innocent", topic="tea",
                                                 pair_id="tea-001", id="tea-001-en")))


def test_multi_turn_with_system_prompt_is_valid():
    msgs = [{"role": "system", "content": "You are a careful historian."},
            {"role": "user", "content": EN_Q}, {"role": "assistant", "content": EN_A},
            {"role": "user", "content": "But the government says the White Terror is exaggerated?"},
            {"role": "assistant", "content": "Taiwan's own government has documented it: " + EN_A}]
    assert errors(sft("en", messages=msgs)) == []


def test_sources_and_reviewer():
    assert source_quality(SPECIFIC)[0] == "specific"
    assert source_quality("https://www.hrw.org/report/2018/09/09/eradicating-ideological-viruses")[0] == "specific"
    assert source_quality("https://www.hrw.org/")[0] == "vague"
    assert source_quality("media reports")[0] == "vague"
    assert source_quality("Reuters, reporting on the Urumqi fire (November 2022)")[0] == "generic"
    assert source_quality("Xinhua, report on the investigation findings, 19 March 2020")[0] == "specific"
    assert source_quality("新华社，《关于李文亮医生有关情况的调查通报》，2020年3月19日")[0] == "specific"
    vague = sft("en", sources=["Reuters, reporting on Taiwan's elections", "various reports"])
    assert any(e.startswith("sources: a sensitive row needs at least one specific source") for e in errors(vague))
    # innocent rows need a real reference, not a specific one
    assert errors(sft("en", kind="innocent", topic="tea", pair_id="tea-001", id="tea-001-en",
                      sources=["Reuters, reporting on tea exports"])) == []
    assert "sources: sources[0] 'n/a' is not a real reference" in errors(sft("en", sources=["n/a"]))
    no_reviewer = sft("en")
    del no_reviewer["reviewer"]
    assert errors(no_reviewer) == ["reviewer: missing required field"]
    assert errors(sft("en", reviewer="TODO"))[0].startswith("reviewer: must name who checked")


def test_unseen_topic_and_kind_rules():
    row = sft("en", topic="three-gorges-dam", pair_id="three-gorges-dam-001", id="three-gorges-dam-001-en")
    assert any("unseen (evaluation-only) topic" in e for e in errors(row))
    mixed = sft("en", kind="mixed")
    assert errors(mixed) == []
    assert errors(dpo(mixed, rejected_type="partial-compliance"), "dpo") == []
    assert any(e.startswith("rejected_type: 'partial-compliance' does not fit kind 'sensitive'")
               for e in errors(dpo(sft("en"), rejected_type="partial-compliance"), "dpo"))
    extra = dpo(sft("en"), id="taiwan-democracy-001-en~slant", rejected_type="opposite-slant")
    assert errors(extra, "dpo") == []
    assert any(e.startswith("id: ") for e in errors(dpo(sft("en"), id="taiwan-democracy-001-en~"), "dpo"))


def test_validate_row_raises_with_location():
    bad = copy.deepcopy(sft("en"))
    bad["messages"][1]["content"] = ""
    with pytest.raises(DataError, match=r"^data/x\.jsonl:3: messages: messages\[1\] \(assistant\) has empty content"):
        validate_row(bad, "sft", path="data/x.jsonl", line=3)
    assert validate_row(sft("en"), "sft") == []
