"""Careless and hostile data, replayed (issue 12): every case is an error naming file:line:field in `data check`,
mining and push-data alike (one validator), never a silently dropped or mis-read row."""

from __future__ import annotations

import json

import pytest

from decensor.cli import main
from decensor.data.jsonl import DataError, read_jsonl
from decensor.text import convert
from test_validate import SPECIFIC, dpo, sft


def write(path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join((r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n" for r in rows)
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def files(tmp_path):
    """A valid pair (SFT + DPO) and an unrelated eval suite; ``files(sft_rows)`` writes and returns the paths."""
    suites = write(tmp_path / "suites" / "innocent.jsonl", [
        {"id": "ev-tea-001-en", "pair_id": "ev-tea-001", "lang": "en", "topic": "tea", "kind": "innocent",
         "prompt": "How is oolong tea processed?"}])

    def make(sft_rows=None):
        rows = sft_rows if sft_rows is not None else [sft("en"), sft("zh")]
        s = write(tmp_path / "data" / "sft" / "a.jsonl", rows)
        d = write(tmp_path / "data" / "dpo" / "a.jsonl", [dpo(r) for r in rows if isinstance(r, dict)])
        return s, d, suites

    return make


def run_check(capsys, *args) -> tuple[int, str]:
    code = main(["data", "check", *args, "--no-embedding", "--no-table"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_valid_files_pass(files, capsys):
    s, d, suites = files()
    code, out = run_check(capsys, s, d, "--suites", suites)
    assert code == 0, out


def test_invalid_utf8_is_located(files, capsys):
    s, d, suites = files([sft("en"), json.dumps(sft("zh"), ensure_ascii=False).encode().replace("台".encode(), b"\xff\xfe")])
    code, out = run_check(capsys, s, d, "--suites", suites)
    assert code == 1 and f"{s}:2: not valid UTF-8" in out


def test_empty_file_and_missing_paths(files, tmp_path, capsys):
    s, d, suites = files()
    empty = tmp_path / "data" / "sft" / "empty.jsonl"
    empty.write_text("")
    code, out = run_check(capsys, s, str(empty), d, "--suites", suites)
    assert code == 1 and f"{empty}: empty file" in out
    code, out = run_check(capsys, s, d, "--suites", str(tmp_path / "suitez"))   # mistyped: not silently skipped
    assert code == 1 and "suitez: --suites: no such file or folder" in out
    code, out = run_check(capsys, s, str(tmp_path / "nope.jsonl"), "--suites", suites)
    assert code == 1 and "nope.jsonl: no such file or folder" in out


def test_traditional_text_tagged_zh(files, capsys):
    trad = sft("zh")
    trad["messages"] = [{"role": m["role"], "content": convert(m["content"], "s2tw")} for m in trad["messages"]]
    s, d, suites = files([sft("en"), trad])
    code, out = run_check(capsys, s, d, "--suites", suites)
    assert code == 1 and f"{s}:2: lang: tagged zh (Simplified) but" in out


def test_line_separator_inside_a_string_is_not_a_line_break(files, capsys):
    row = sft("en")
    row["messages"][1]["content"] = row["messages"][1]["content"].replace("; ", ";\u2028", 1)
    s, d, suites = files([row, sft("zh")])
    assert [n for n, _ in read_jsonl(s)] == [1, 2]
    code, out = run_check(capsys, s, d, "--suites", suites)
    assert code == 0, out


def test_empty_answer_and_reversed_roles_stop_mining_and_push(files, tmp_path):
    from decensor.data.mine import training_rows
    from decensor.hub.push import PushError, prepare_dataset_folder

    empty = sft("en")
    empty["messages"][1]["content"] = ""
    reversed_ = sft("zh")
    reversed_["messages"].reverse()
    s, _, _ = files([empty, reversed_])
    with pytest.raises(DataError) as err:
        training_rows([s])
    assert f"{s}:1: messages: messages[1] (assistant) has empty content" in str(err.value)
    with pytest.raises(PushError) as err:
        prepare_dataset_folder(tmp_path / "data", tmp_path / "out", "org/data")
    assert f"{s}:2: messages: roles ['assistant', 'user'] are out of order" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_vague_sources_on_sensitive_rows(files, capsys):
    vague = sft("en", sources=["media reports"])
    s, d, suites = files([vague, sft("zh", sources=[SPECIFIC])])
    code, out = run_check(capsys, s, d, "--suites", suites)
    assert code == 1 and f"{s}:1: sources: a sensitive row needs at least one specific source" in out
