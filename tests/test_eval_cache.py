import json
import os
import signal
import subprocess
import sys
import time

from decensor.eval.cache import AnswerCache


def test_half_written_line_is_dropped_and_truncated(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = AnswerCache(path)
    cache.add_many([("a:1", "first"), ("b:2", "second")])
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"key": "c:3", "answ')  # killed mid-write
    again = AnswerCache(path)
    assert again.answers == {"a:1": "first", "b:2": "second"}
    assert path.read_text(encoding="utf-8").endswith("\n")
    again.add_many([("c:3", "third")])
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a:1", "b:2", "c:3"]


def test_corrupt_line_keeps_what_came_before(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"key": "a:1", "answer": "x"}\nnot json\n{"key": "b:2", "answer": "y"}\n')
    assert AnswerCache(path).answers == {"a:1": "x"}


def test_killed_eval_resumes_without_repeating_finished_prompts(tiny_model_dir, tmp_path):
    env = dict(os.environ, DECENSOR_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "decensor", "eval", "run", "--model", tiny_model_dir("qwen2"), "--max-new-tokens", "24",
           "--batch-size", "2", "--kinds", "harmful", "--pairs-per-topic", "3", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    answers_dir = tmp_path / "cache" / "answers"
    deadline = time.monotonic() + 120
    cache_file = None
    while time.monotonic() < deadline:
        files = list(answers_dir.glob("*.jsonl")) if answers_dir.exists() else []
        if files and len(files[0].read_text().splitlines()) >= 4:
            cache_file = files[0]
            break
        time.sleep(0.05)
    assert cache_file is not None, "the run wrote no answers in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {json.loads(line)["key"] for line in cache_file.read_text().splitlines() if line.endswith("}")}
    assert not (tmp_path / "out" / "results.json").exists(), "the run finished before it was killed"

    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    keys = [json.loads(line)["key"] for line in cache_file.read_text().splitlines()]
    assert len(keys) == len(set(keys)), "a finished prompt was generated again"
    assert done_before <= set(keys)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["suite"]["n_prompts"] == len(keys)
