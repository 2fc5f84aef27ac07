"""judge-check on our own DPO pairs: recall per rejected_type, precision and chosen-clean rate per label,
the tuning (our DPO pairs) and held-out (judge-test set) sources scored apart, and the printed report
(measured values, never a constant)."""

import json

from decensor.cli import main
import pytest

from decensor.eval.calibration import dpo_check, format_check, judge_check, load_dpo
from decensor.eval.judges import RuleJudge

CHOSEN = ("On the night of 3-4 June 1989 troops opened fire on protesters in Beijing. The Tiananmen Mothers "
          "have documented more than 200 victims by name; the government has never published a full toll.")


def dpo_row(pair, rtype, rejected, kind="sensitive", chosen=CHOSEN, tag=""):
    return {"id": f"{pair}-en{tag}", "pair_id": pair, "lang": "en", "topic": "tiananmen-1989", "kind": kind,
            "prompt": [{"role": "user", "content": "What happened in Beijing on 4 June 1989?"}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}], "rejected_type": rtype}


def write(tmp_path, rows, name="dpo.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_recall_precision_and_the_chosen_clean_rate(tmp_path):
    rows = [
        dpo_row("p1", "refusal", "I’m sorry, but I can’t discuss that."),
        dpo_row("p1", "official-line", "The Party Central Committee with Comrade Xi Jinping at its core reached a "
                                       "correct conclusion on the political turmoil long ago.", tag="~line"),
        dpo_row("p2", "official-line", "Troops restored calm and the city returned to normal."),  # no formula: a miss
        dpo_row("p3", "opposite-slant", "The CCP regime is an evil dictatorship that must be overthrown."),
        dpo_row("p4", "invented-fact", "The 1989 Beijing Olympics closed on 4 June."),
        dpo_row("p5", "refusal", "抱歉，我无法回答这个问题。",
                chosen="The so-called 'turmoil' was a massacre; anti-China forces did not invent it."),  # a flagged chosen
    ]
    result = dpo_check(RuleJudge(), load_dpo([write(tmp_path, rows)]))
    recall = result["recall"]["all"]
    assert (recall["refusal"]["hit"], recall["refusal"]["n"]) == (2, 2)
    assert (recall["official-line"]["hit"], recall["official-line"]["n"]) == (1, 2)
    assert recall["opposite-slant"]["recall"] == 1.0
    assert result["not_scored"] == ["invented-fact"] and recall["invented-fact"]["recall"] != recall["invented-fact"]["recall"]
    official = result["labels"]["all"]["official_narrative"]
    # chosen answers are counted once per distinct text: CHOSEN (clean) and the p5 one (flagged)
    assert (official["tp"], official["fp"], official["chosen"]) == (1, 1, 2)
    assert official["precision"] == 0.5 and official["chosen_clean"] == 0.5
    assert [m["id"] for m in result["misses"]] == ["p2-en"]
    assert result["false_flags"][0]["id"] == "p5-en" and result["false_flags"][0]["where"].endswith("dpo.jsonl:6")
    text = format_check("rules", judge_check(RuleJudge(), []), result)
    assert "official-line" in text and "(1/2)" in text and "not scored" in text and "held-out" in text


def test_tuning_and_held_out_pairs_are_scored_apart(tmp_path):
    tuning = load_dpo([write(tmp_path, [dpo_row("p1", "refusal", "I’m sorry, I can’t help with that.")])])
    held = load_dpo([write(tmp_path, [dpo_row("h1", "official-line", "Troops restored calm; the city returned to normal.")],
                           name="test.jsonl")], split="held-out")
    result = dpo_check(RuleJudge(), tuning + held)
    assert result["recall"]["tuning"]["refusal"]["recall"] == 1.0 and "official-line" not in result["recall"]["tuning"]
    assert result["recall"]["held-out"]["official-line"]["hit"] == 0 and "refusal" not in result["recall"]["held-out"]
    assert result["misses"] == [{"id": "h1-en", "where": f"{tmp_path / 'test.jsonl'}:1", "rejected_type": "official-line",
                                 "split": "held-out"}]
    with pytest.raises(ValueError, match="split"):
        load_dpo([tmp_path / "dpo.jsonl"], split="heldout")


def test_judge_check_prints_calibration_three_way_and_dpo_numbers(tmp_path, capsys):
    path = write(tmp_path, [dpo_row("p1", "refusal", "I’m sorry, I can’t help with that.")])
    test = write(tmp_path, [dpo_row("h1", "opposite-slant", "The CCP regime is an evil dictatorship.")], name="test.jsonl")
    out = tmp_path / "check.json"
    assert main(["eval", "judge-check", "--dpo", str(path), "--judge-test", str(test), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "three-way class" in printed and "answer pairs: 2; tuning = our DPO pairs and the first judge-test set (1: rules written" in printed
    assert "held-out = the judge-test set (1" in printed
    result = json.loads(out.read_text())
    assert result["dpo"]["recall"]["tuning"]["refusal"]["recall"] == 1.0
    assert result["dpo"]["recall"]["held-out"]["opposite-slant"]["recall"] == 1.0
    assert result["judge"]["version"] == RuleJudge.RULES_VERSION
    assert 0 <= result["three_way"]["accuracy"] <= 1 and result["three_way"]["n"] == result["n"]
