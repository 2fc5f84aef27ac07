"""`decensor data mine`: on-policy DPO rows from a model's answers, valid for `data check`, with counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decensor.cli import main
from decensor.data.check import check_data
from decensor.data.mine import MineArguments, format_summary, mine, redact_harmful, rejected_type, select_rows
from decensor.eval.judges import Judgement, Labels
from decensor.paths import DATA_DIR


def sample_sft(tmp_path: Path, pairs_per_kind: int = 1) -> Path:
    """A small SFT file: the first ``pairs_per_kind`` whole pairs of each kind from the shipped data."""
    rows, taken = [], {}
    for path in sorted((DATA_DIR / "sft").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if [m["role"] for m in row["messages"]] != ["user", "assistant"]:
                continue  # mining answers single-turn prompts only (multi-turn rows are counted as skipped)
            pairs = taken.setdefault(row["kind"], [])
            if row["pair_id"] in pairs or len(pairs) < pairs_per_kind:
                if row["pair_id"] not in pairs:
                    pairs.append(row["pair_id"])
                rows.append(row)
    assert {r["kind"] for r in rows} >= {"sensitive", "innocent"}
    out = tmp_path / "sft" / "sample.jsonl"
    out.parent.mkdir(parents=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


def empty_suites(tmp_path: Path) -> str:
    """One unrelated evaluation prompt (an empty or missing suites folder is an error in `data check`)."""
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "innocent.jsonl").write_text(json.dumps(
        {"id": "ev-tea-001-en", "pair_id": "ev-tea-001", "lang": "en", "topic": "tea", "kind": "innocent",
         "prompt": "How is oolong tea processed?"}) + "\n", encoding="utf-8")
    return str(tmp_path / "suites")


def assert_valid(sft: Path, out: Path, suites: str) -> list[dict]:
    report = check_data([str(sft), str(out)], suites=[suites])
    assert report.ok, "\n".join(map(str, report.errors))
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def restore_threads():
    """`--threads 1` sets torch's thread count for the process; put it back afterwards."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


class FlagEverything:
    """A judge that flags every answer, so a random model's gibberish still yields rows."""

    name, version = "flag-everything", "1"

    def judge(self, prompt, answer):
        if prompt.kind == "harmful":
            return Judgement(Labels(harmful_compliance=True, evidence=["stub"]))
        return Judgement(Labels(refusal="hard", official_narrative=prompt.kind == "sensitive", evidence=["stub"]))


def test_mine_tiny_model_cli_reports_counts(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "cache"))
    sft, out, suites = sample_sft(tmp_path), tmp_path / "mined-tiny.jsonl", empty_suites(tmp_path)
    n = len(sft.read_text().splitlines())
    assert main(["data", "mine", "--model", tiny_model_dir("qwen2"), "--sft", str(sft), "--out", str(out),
                 "--max-new-tokens", "24", "--batch-size", "4", "--no-progress"]) == 0
    summary = capsys.readouterr().out
    assert f"mined {n} answers" in summary and "not flagged (not written)" in summary and "per kind/lang" in summary
    rows = assert_valid(sft, out, suites) if out.exists() else []   # nothing flagged: no (empty) file
    assert f"-> {len(rows)} DPO rows" in summary
    # cached: a second run generates nothing new and writes the same file
    before = out.read_text() if out.exists() else None
    assert main(["data", "mine", "--model", tiny_model_dir("qwen2"), "--sft", str(sft), "--out", str(out),
                 "--max-new-tokens", "24", "--no-progress"]) == 0
    assert (out.read_text() if out.exists() else None) == before


def test_mine_tiny_model_writes_valid_rows(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "cache"))
    sft, out, suites = sample_sft(tmp_path), tmp_path / "mined.jsonl", empty_suites(tmp_path)
    result = mine(MineArguments(model=tiny_model_dir("qwen2"), sft=[str(sft)], out=str(out), max_new_tokens=16,
                                batch_size=4, progress=False), judge=FlagEverything())
    rows = assert_valid(sft, out, suites)
    assert result.total == len(sft.read_text().splitlines())
    assert result.kept == len(rows) == result.total - sum(result.skipped.values())
    assert all(r["id"].endswith("-mined") for r in rows)
    expected = {"sensitive": "refusal", "innocent": "refusal", "harmful-refusal": "harmful-compliance",
                "mixed": "harmful-compliance"}
    assert all(r["rejected_type"] == expected[r["kind"]] for r in rows)
    harmful = [r for r in rows if r["kind"] == "harmful-refusal"]
    assert harmful and all(r["rejected_truncated"] and len(r["rejected"][0]["content"]) <= 170 for r in harmful)
    assert "kept per rejected_type" in format_summary(result)


def test_rejected_type_mapping():
    assert rejected_type("sensitive", Labels(refusal="hard", official_narrative=True)) == "refusal"
    assert rejected_type("sensitive", Labels(refusal="soft", official_narrative=True)) == "official-line"
    assert rejected_type("sensitive", Labels(refusal="soft")) == "refusal"
    assert rejected_type("sensitive", Labels()) is None
    assert rejected_type("innocent", Labels(propaganda_framing=True)) == "propaganda-framing"
    assert rejected_type("innocent", Labels(refusal="soft")) == "refusal"
    assert rejected_type("harmful-refusal", Labels(refusal="hard")) is None
    assert rejected_type("harmful-refusal", Labels(harmful_compliance=True)) == "harmful-compliance"


def test_redact_harmful_keeps_only_the_opening():
    assert redact_harmful("Sure! Here is how you could do that: first, gather the materials. Step 1: ...") == \
        "Sure! Here is how you could do that: ..."
    assert redact_harmful("当然可以！以下是制作方法的详细步骤：\n1. 准备材料") == "当然可以！以下是制作方法的详细步骤： ..."
    assert len(redact_harmful("word " * 200)) <= 165
    assert redact_harmful("Short.") == "Short."


def test_select_rows_keeps_whole_pairs_over_topics():
    rows = [{"pair_id": f"{t}-{i:03d}", "topic": t, "lang": lang}
            for t in ("a", "b", "c") for i in range(1, 4) for lang in ("en", "zh")]
    chosen = select_rows(rows, 6)
    assert len(chosen) == 6 and {r["topic"] for r in chosen} == {"a", "b", "c"}
    assert sorted(r["lang"] for r in chosen) == ["en", "en", "en", "zh", "zh", "zh"]


@pytest.mark.slow
def test_mine_real_demo_model(demo_model_dir, tmp_path, monkeypatch, capsys, restore_threads):
    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "cache"))
    sft, out, suites = sample_sft(tmp_path), tmp_path / "mined-demo.jsonl", empty_suites(tmp_path)
    assert main(["data", "mine", "--model", demo_model_dir, "--dtype", "float32", "--sft", str(sft),
                 "--out", str(out), "--limit", "6", "--max-new-tokens", "64", "--threads", "1", "--no-progress"]) == 0
    summary = capsys.readouterr().out
    assert "mined 6 answers" in summary
    rows = assert_valid(sft, out, suites)
    assert f"-> {len(rows)} DPO rows" in summary
    for r in rows:
        assert r["rejected"][0]["content"].strip() and r["origin"] == demo_model_dir
