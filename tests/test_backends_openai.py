"""The openai backend against a real OpenAI-compatible HTTP server on loopback (decensor.testing.serve, the
tiny random qwen2 model in a subprocess): answers equal the open weights' own, concurrency is bounded,
failed requests are retried, and a run killed mid-way resumes without asking a finished prompt again."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from contextlib import ExitStack

import pytest

from decensor.generation import GenerationSettings, ModelSpec, generate_answers
from decensor.testing import free_port, running_server, serve_command, wait_for_answers

PROMPTS = [f"Question {i}: what happened in {1980 + i}?" for i in range(6)] + ["台湾是一个国家吗？", "x"]


@pytest.fixture
def server(tiny_model_dir, tmp_path):
    """``server(*flags)`` starts a server on the tiny model; returns (base_url, request log path)."""
    with ExitStack() as stack:
        def start(*flags: str):
            port = free_port()
            log = tmp_path / f"requests-{port}.jsonl"
            cmd = serve_command(tiny_model_dir("qwen2"), port, "--request-log", str(log), *flags)
            return stack.enter_context(running_server(cmd, port, tmp_path / f"server-{port}.log")), log

        yield start


def requested_prompts(log) -> list[str]:
    return [json.loads(line)["messages"][-1]["content"] for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_endpoint_answers_equal_the_open_weights_concurrency_is_bounded_and_failures_retried(
        server, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "cache"))
    base_url, log = server("--delay", "0.3", "--fail-first", "2")
    settings = GenerationSettings(max_new_tokens=8)
    items = [(f"p{i}", p) for i, p in enumerate(PROMPTS)]
    spec = ModelSpec(tiny_model_dir("qwen2"), backend="openai", base_url=base_url, concurrency=3, max_retries=3)
    served = generate_answers(spec, items, settings, progress=False)

    local = generate_answers(ModelSpec(tiny_model_dir("qwen2"), dtype="float32"), items, settings, progress=False)
    assert served == local  # the served chatbot and its open weights, side by side: same greedy answers

    with urllib.request.urlopen(f"{base_url}/stats") as resp:
        stats = json.loads(resp.read())
    assert stats["max_open"] == 3, stats  # concurrency reached and never exceeded
    asked = requested_prompts(log)
    assert len(asked) == len(PROMPTS) + 2 and sorted(set(asked)) == sorted(PROMPTS)  # two 503s, retried

    again = generate_answers(spec, items, settings, progress=False)  # all cached: no request at all
    assert again == served and len(requested_prompts(log)) == len(asked)


@pytest.mark.slow
def test_a_failing_endpoint_stops_the_run_and_keeps_what_came_back(server, tiny_model_dir, tmp_path, monkeypatch):
    import openai

    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "cache"))
    base_url, _ = server("--fail-first", "100")
    spec = ModelSpec("tiny", backend="openai", base_url=base_url, concurrency=2, max_retries=1)
    with pytest.raises(openai.InternalServerError, match="overloaded"):
        generate_answers(spec, [("a", "hi"), ("b", "ho")], GenerationSettings(max_new_tokens=4), progress=False)


@pytest.mark.slow
def test_killed_run_against_an_endpoint_resumes_without_asking_a_finished_prompt_again(server, tiny_model_dir,
                                                                                        tmp_path):
    base_url, log = server("--delay", "0.4")
    prompts = tmp_path / "audit.txt"
    prompts.write_text("\n".join(f"Audit question {i}: who decides what is said in {2000 + i}?" for i in range(14)) +
                       "\n", encoding="utf-8")
    env = dict(os.environ, DECENSOR_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "decensor", "eval", "run", "--backend", "openai", "--base-url", base_url,
           "--model", tiny_model_dir("qwen2"), "--suites", str(prompts), "--max-new-tokens", "6",
           "--concurrency", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache_file = wait_for_answers(tmp_path / "cache" / "answers", 4, proc)
    assert cache_file is not None, "the run wrote no answers in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "out" / "results.json").exists(), "the run finished before it was killed"
    done = [json.loads(line)["key"] for line in cache_file.read_text().splitlines() if line.endswith("}")]
    asked_before = len(requested_prompts(log))
    assert 4 <= len(done) < 14

    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    keys = [json.loads(line)["key"] for line in cache_file.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 14 and set(done) <= set(keys)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["suite"]["n_prompts"] == 14 and results["backend"] == "openai"
    assert results["model"]["base_url"] == base_url
    # the resumed run asked the server only for prompts without a finished answer
    from decensor.eval.suites import load_suites

    finished_text = {p.prompt for p in load_suites([prompts]) if any(k.startswith(p.id + ":") for k in done)}
    asked_after = requested_prompts(log)[asked_before:]
    assert len(finished_text) == len(done)
    assert not finished_text & set(asked_after), "a finished prompt was asked again"
    assert len(asked_after) == 14 - len(done)
