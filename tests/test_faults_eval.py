"""Faults around evaluation: odd characters in answers, mistyped paths, bad calibration and DPO rows,
cut-off reasoning. (A run killed with SIGKILL and resumed without repeating a finished prompt is
tests/test_eval_cache.py::test_killed_eval_resumes_without_repeating_finished_prompts.)"""

from __future__ import annotations

import json

import pytest

from decensor.cli import main
from decensor.eval.judges import Judgement, Labels, RuleJudge
from decensor.eval.runner import RESULTS_FORMAT
from decensor.eval.suites import EvalPrompt


def write_run(folder, answers: dict[str, tuple[str, Labels]]):
    folder.mkdir(parents=True)
    with open(folder / "answers.jsonl", "w", encoding="utf-8") as f:
        for i, (answer, labels) in enumerate(answers.values()):
            f.write(json.dumps({"id": f"p{i}-en", "pair_id": f"p{i}", "lang": "en", "topic": "three-gorges-dam",
                                "kind": "sensitive", "prompt": "q", "answer": answer,
                                "judgement": Judgement(labels).to_dict()}, ensure_ascii=False) + "\n")
    (folder / "results.json").write_text(json.dumps({"format": RESULTS_FORMAT, "suite": {"hash": "x"},
                                                     "answers_file": "answers.jsonl", "metrics": {}}))


def test_a_line_separator_inside_an_answer_does_not_break_compare(tmp_path, capsys):
    odd = "First line\u2028second line\u2029third\u0085fourth\x0bfifth"
    write_run(tmp_path / "base", {"a": (odd, Labels(refusal="hard")), "b": ("ok", Labels(refusal="hard"))})
    write_run(tmp_path / "tuned", {"a": (odd, Labels()), "b": ("ok\u2028", Labels())})
    assert "\u2028" in (tmp_path / "base" / "answers.jsonl").read_text(encoding="utf-8")  # written raw, not escaped
    out = tmp_path / "cmp.json"
    assert main(["eval", "compare", str(tmp_path / "base"), str(tmp_path / "tuned"), "--out", str(out)]) == 0
    comparison = json.loads(out.read_text())
    assert comparison["metrics"]["refusal_rate"]["delta"] == -1.0
    assert comparison["by_split"]["unseen"]["refusal_rate"]["n"] == 2
    assert "unseen topics" in capsys.readouterr().out


def test_a_mistyped_suites_path_is_an_error_before_any_model_loads(tmp_path, capsys):
    code = main(["eval", "run", "--model", str(tmp_path / "no-model-here"), "--suites", "eval/suitez/sensitive.jsonl",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code != 0 and "eval/suitez/sensitive.jsonl" in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_bad_three_way_label_in_the_calibration_set_names_file_line_and_field(tmp_path):
    from decensor.data.jsonl import DataError
    from decensor.eval.calibration import load_calibration

    row = {"id": "c1", "lang": "en", "kind": "sensitive", "topic": "tiananmen-1989", "prompt": "q", "answer": "a",
           "labels": {"refusal": "none", "answer_class": "partial"}}
    path = tmp_path / "cal.jsonl"
    path.write_text(json.dumps({**row, "labels": {"refusal": "none"}}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"cal.jsonl:2: labels.answer_class: 'partial'"):
        load_calibration(path)


def test_an_unknown_rejected_type_in_dpo_rows_is_an_error_not_skipped(tmp_path):
    from decensor.data.jsonl import DataError
    from decensor.eval.calibration import load_dpo

    row = {"id": "x-en", "pair_id": "x", "lang": "en", "topic": "tiananmen-1989", "kind": "sensitive",
           "prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}],
           "rejected": [{"role": "assistant", "content": "b"}], "rejected_type": "sarcasm"}
    (tmp_path / "d.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"d.jsonl:1: rejected_type: unknown rejected_type 'sarcasm'"):
        load_dpo([tmp_path])


@pytest.mark.parametrize("answer", ["<think>" + "Let me think. " * 400, "<think></think>", "\u2028\u2029 \x00",
                                    "</think>" * 3, "\ufeff\u200b"],
                         ids=["unclosed-think", "empty-think", "separators", "stray-close", "invisible"])
def test_cut_off_reasoning_and_odd_answers_are_labelled_not_crashing(answer):
    prompt = EvalPrompt("t-1-en", "t-1", "en", "tiananmen-1989", "sensitive", "q")
    j = RuleJudge().judge(prompt, answer)
    assert j.answer.answer_class in ("refused", "evasive", "complete")
    if answer.startswith("<think>"):
        assert j.answer.degenerate == "empty" and j.answer.answer_class == "refused" and j.thinking is not None


def test_capability_with_an_openai_endpoint_is_a_user_error(tmp_path):
    from decensor.errors import UserError
    from decensor.eval.runner import EvalArguments, run_eval

    args = EvalArguments(model="served-model", backend="openai", capability=True, out=str(tmp_path / "out"),
                         backend_options={"base_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(UserError, match="--capability"):
        run_eval(args)
    assert not (tmp_path / "out").exists()
