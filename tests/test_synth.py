"""`decensor data synth`: a real teacher behind a real OpenAI-compatible server on loopback (a tiny random
model), the review queue, resume after SIGKILL without repeating a finished call, and nothing entering
data/ without review."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from decensor.data.jsonl import DataError
from decensor.data.synth import SynthConfig, merge_reviewed, parse_answer, parse_questions, run_synth
from decensor.testing import free_port, running_server, serve_command

EN = ("When did martial law end in Taiwan?",
      "Martial law in Taiwan, imposed by the Kuomintang government in May 1949, was lifted by President Chiang "
      "Ching-kuo on 15 July 1987 after 38 years. During that period the government banned new political parties "
      "and newspapers and prosecuted thousands of people for political offences, the era known as the White "
      "Terror. The Democratic Progressive Party was founded in 1986, while the ban was still in force, and "
      "direct presidential elections followed in 1996.")
ZH = ("台湾的戒严是什么时候结束的？",
      "台湾的戒严由国民党政府于1949年5月实施，蒋经国总统于1987年7月15日宣布解除，前后长达38年。戒严期间，"
      "政府禁止组织新政党、限制新办报纸，并以政治罪名起诉数以千计的人，这段时期被称为“白色恐怖”。民主进步党"
      "在1986年戒严尚未解除时成立，1996年台湾举行了首次总统直选。")
SOURCES = ["Transitional Justice Commission (Taiwan), 'Final Report', May 2022",
           "Shelley Rigger, 'Politics in Taiwan: Voting for Democracy', Routledge, 1999"]


def test_parsers():
    assert parse_questions("1. What is A?\n\n2) Why B?\n- What is A?", 5) == ["What is A?", "Why B?"]
    assert parse_answer('Sure: ```json\n{"answer": "x", "sources": ["s", 3]}\n```') == ("x", ["s"])
    assert parse_answer("no json here") is None


@pytest.fixture
def teacher(tiny_model_dir, tmp_path):
    """(base_url, model name, request log) of the tiny random model served on loopback."""
    model = tiny_model_dir("qwen2")
    port = free_port()
    log = tmp_path / "requests.jsonl"
    cmd = serve_command(model, port, "--request-log", str(log), "--delay", "0.3")
    with running_server(cmd, port, tmp_path / "server.log") as base_url:
        yield base_url, model, log


@pytest.fixture
def places(tmp_path):
    """An evaluation suite and an empty data folder of our own (the repository's data/ is never touched)."""
    suites = tmp_path / "suites" / "innocent.jsonl"
    suites.parent.mkdir()
    suites.write_text(json.dumps({"id": "ev-tea-001-en", "pair_id": "ev-tea-001", "lang": "en", "topic": "tea",
                                  "kind": "innocent", "prompt": "How is oolong tea processed?"}) + "\n",
                      encoding="utf-8")
    train = tmp_path / "train" / "sft" / "a.jsonl"
    train.parent.mkdir(parents=True)
    train.write_text(json.dumps({"id": "tea-001-en", "pair_id": "tea-001", "lang": "en", "topic": "tea",
                                 "kind": "innocent", "messages": [{"role": "user", "content": "What is pu'er?"},
                                                                  {"role": "assistant", "content": "A tea."}],
                                 "sources": ["x"], "reviewer": "review:t"}) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    (data / "sft").mkdir(parents=True)
    return str(suites), str(train), data


def _config(base_url: str, model: str) -> SynthConfig:
    return SynthConfig(teacher=model, backend="openai", backend_options={"base_url": base_url, "concurrency": 1},
                       topics=["taiwan-democracy"], questions_per_topic=1, max_new_tokens=16, temperature=0.0)


@pytest.mark.slow
def test_synth_queue_and_review_gate(teacher, places, tmp_path):
    base_url, model, log = teacher
    suites, train, data = places
    run = tmp_path / "synth-test"
    result = run_synth(_config(base_url, model), run, suites=[suites], train_paths=[train], progress=False)
    queue = [json.loads(line) for line in (run / "queue.jsonl").read_text(encoding="utf-8").splitlines()]
    # one question in en, zh, zh-Hant -> three candidate rows, all waiting for review, each with what the filters found
    assert result.candidates == 3 and len(queue) == 3 and result.pending == 3
    assert {e["row"]["lang"] for e in queue} == {"en", "zh", "zh-Hant"}
    assert all(e["review"] is None and e["filters"] for e in queue)   # random-model text fails the checks, visibly
    assert (run / "synth.log").read_text(encoding="utf-8").count("teacher calls") == 3
    calls = len(log.read_text().splitlines())
    assert calls == 1 + 2 + 3   # questions, two paraphrases, three answers

    # a second run repeats no call and keeps the queue
    run_synth(_config(base_url, model), run, suites=[suites], train_paths=[train], progress=False)
    assert len(log.read_text().splitlines()) == calls

    # nothing enters data/ without review
    assert merge_reviewed(run, data).merged == 0
    assert list((data / "sft").iterdir()) == []
    by_lang = {e["row"]["lang"]: e for e in queue}
    # accepted but the drafted (random) text is invalid: an error naming the queue line, nothing written
    for lang in ("en", "zh"):
        by_lang[lang].update(review="accept", reviewer="review:tester")
    _write(run, queue)
    with pytest.raises(DataError, match=r"queue\.jsonl:\d+: "):
        merge_reviewed(run, data)
    assert list((data / "sft").iterdir()) == []
    # only one language of the pair accepted: not merged
    by_lang["zh"].update(review="reject")
    _write(run, queue)
    assert merge_reviewed(run, data).merged == 0 and list((data / "sft").iterdir()) == []
    # edited by the reviewer: the pair enters, with the reviewer recorded and fresh ids
    for lang, (q, a) in (("en", EN), ("zh", ZH)):
        row = by_lang[lang]["row"]
        row["messages"] = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        row["sources"] = list(SOURCES)
        by_lang[lang].update(review="edit", reviewer="review:tester")
    _write(run, queue)
    merged = merge_reviewed(run, data)
    assert merged.merged == 2 and merged.skipped["not reviewed"] == 1
    rows = [json.loads(line) for line in merged.out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["taiwan-democracy-001-en", "taiwan-democracy-001-zh"]
    assert all(r["reviewer"] == "review:tester" for r in rows)
    assert merge_reviewed(run, data).merged == 0   # merging again adds nothing twice
    # the unreviewed zh-Hant row never entered
    assert "zh-Hant" not in merged.out.read_text(encoding="utf-8")


def _write(run, queue) -> None:
    (run / "queue.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in queue),
                                     encoding="utf-8")


@pytest.mark.slow
def test_synth_resumes_after_sigkill_without_repeating_calls(teacher, places, tmp_path):
    base_url, model, log = teacher
    suites, train, _ = places
    run = tmp_path / "synth-killed"
    cmd = [sys.executable, "-m", "decensor", "data", "synth", "run", "--model", model, "--backend", "openai",
           "--base-url", base_url, "--concurrency", "1", "--topics", "taiwan-democracy",
           "--questions-per-topic", "1", "--max-new-tokens", "16", "--temperature", "0", "--out", str(run),
           "--suites", suites, "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [json.loads(line)["messages"] for line in log.read_text().splitlines()]
    assert 3 <= len(before) < 6, "the run was not killed part-way"
    assert not (run / "queue.jsonl").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    after = [json.loads(line)["messages"] for line in log.read_text().splitlines()]
    texts = [json.dumps(m, sort_keys=True) for m in after]
    repeated = len(texts) - len(set(texts))
    assert repeated <= 1, f"{repeated} calls repeated"   # at most the one in flight when the process was killed
    assert len(set(texts)) == 6 and (run / "queue.jsonl").exists()
    assert "waiting for review: 3" in done.stdout


def test_unseen_topics_are_refused(tmp_path):
    config = SynthConfig(teacher="t", backend_options={"base_url": "http://127.0.0.1:9/v1"},
                         topics=["three-gorges-dam"])
    with pytest.raises(ValueError, match="unseen"):
        run_synth(config, tmp_path / "r", progress=False)
    bad = copy.deepcopy(config)
    bad.topics = ["no-such-topic"]
    with pytest.raises(ValueError, match="unknown topic"):
        run_synth(bad, tmp_path / "r2", progress=False)
