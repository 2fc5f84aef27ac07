"""The answer cache: crash-safe appends, resumable runs, and a key that holds everything that changes an
answer (backend, device, dtype, content of weights and adapter, chat template, generation settings)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decensor.generation import GenerationSettings, ModelSpec, cache_key, generate_answers
from decensor.generation.cache import AnswerCache, fingerprint
from decensor.generation.identity import INDEX_NAME, RACY_SECONDS, files_sha256
from decensor.testing import wait_for_answers

ITEMS = [("a", "台湾是一个国家吗？"), ("b", "How do I brew oolong tea?"), ("c", "x")]
SETTINGS = GenerationSettings(max_new_tokens=4, batch_size=2)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DECENSOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    """A private copy of the tiny qwen2 model, so a test may change its files."""
    return Path(shutil.copytree(tiny_model_dir("qwen2"), tmp_path / "model"))


def flip_weight_byte(folder: Path) -> None:
    """Change one byte of the last weight (its lowest mantissa byte): same size, different content."""
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-4] ^= 0x01
    path.write_bytes(bytes(data))


def cache_lines(root: Path) -> dict[str, int]:
    return {p.name: len(p.read_text().splitlines()) for p in sorted((root / "answers").glob("*.jsonl"))}


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


# --- the key ------------------------------------------------------------------------------------------

def test_unchanged_model_is_a_hit_and_one_changed_weight_byte_is_a_miss(model_copy, isolated_cache):
    spec = ModelSpec(str(model_copy), dtype="float32")
    first = generate_answers(spec, ITEMS, SETTINGS, progress=False)
    assert len(first) == 3 and all(isinstance(a, str) for a in first)
    (name, lines), = cache_lines(isolated_cache).items()
    assert lines == 3

    again = generate_answers(spec, ITEMS, SETTINGS, progress=False)  # unchanged model: all from the cache
    assert again == first and cache_lines(isolated_cache) == {name: 3}

    flip_weight_byte(model_copy)
    generate_answers(spec, ITEMS, SETTINGS, progress=False)
    after = cache_lines(isolated_cache)
    assert len(after) == 2 and after[name] == 3, "a changed weight must not be served the old answers"
    meta = json.loads((isolated_cache / "answers" / name).with_suffix(".meta.json").read_text())
    assert meta["backend"] == "transformers" and meta["device"] == "cpu" and meta["dtype"] == "float32"
    assert len(meta["model"]["content_sha256"]) == 64 and meta["chat_template"]


def test_dtype_device_backend_template_adapter_and_settings_are_in_the_key(model_copy, isolated_cache, tmp_path):
    from decensor.testing import build_tiny_adapter

    base = ModelSpec(str(model_copy), dtype="float32")
    key = cache_key(base, SETTINGS)
    assert cache_key(ModelSpec(str(model_copy), dtype="float32"), SETTINGS) == key
    assert cache_key(ModelSpec(str(model_copy), dtype="bfloat16"), SETTINGS) != key
    # "auto" is what config.json says, so it shares float32's answers exactly when the checkpoint is float32
    assert cache_key(ModelSpec(str(model_copy), dtype="auto"), SETTINGS)["dtype"] == "float32"
    assert cache_key(ModelSpec(str(model_copy), dtype="float32", backend="vllm"), SETTINGS) != key
    assert cache_key(ModelSpec(str(model_copy), dtype="float32", backend="vllm", tensor_parallel_size=2),
                     SETTINGS) != cache_key(ModelSpec(str(model_copy), dtype="float32", backend="vllm"), SETTINGS)
    assert key["device"] == "cpu"
    assert cache_key(base, GenerationSettings(max_new_tokens=4, system_prompt="Be factual.")) != key
    assert cache_key(base, GenerationSettings(max_new_tokens=4, batch_size=32)) == key  # speed only

    adapter_1 = build_tiny_adapter(model_copy, tmp_path / "ad1", seed=1)
    adapter_2 = build_tiny_adapter(model_copy, tmp_path / "ad2", seed=2)
    k1 = cache_key(ModelSpec(str(model_copy), adapter=str(adapter_1), dtype="float32"), SETTINGS)
    k2 = cache_key(ModelSpec(str(model_copy), adapter=str(adapter_2), dtype="float32"), SETTINGS)
    assert k1 != key and k1 != k2

    template = model_copy / "chat_template.jinja"
    template.write_text(template.read_text().replace("You are a helpful assistant.", "You are Qwen."))
    changed = cache_key(base, SETTINGS)
    assert changed["chat_template"] != key["chat_template"] and fingerprint(changed) != fingerprint(key)


def test_openai_key_names_the_endpoint_not_local_files():
    spec = ModelSpec("served-model", backend="openai", base_url="http://127.0.0.1:9/v1/")
    key = cache_key(spec, SETTINGS)
    assert key["device"] == "remote" and key["options"] == {"base_url": "http://127.0.0.1:9/v1"}
    other = cache_key(ModelSpec("served-model", backend="openai", base_url="http://127.0.0.1:10/v1"), SETTINGS)
    assert other != key
    assert cache_key(ModelSpec("served-model", backend="openai", base_url="http://127.0.0.1:9/v1", concurrency=1,
                               api_key_env="OTHER"), SETTINGS) == key  # speed and credentials change no answer


def test_content_hash_is_computed_once_and_reused_while_size_and_mtime_hold(tmp_path, isolated_cache):
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x00" * 1000)
    old = time.time() - 60
    os.utime(path, (old, old))
    first = files_sha256([path])[str(path)]
    index = json.loads((isolated_cache / INDEX_NAME).read_text())
    assert index[str(path.resolve())]["sha256"] == first

    # same size, same mtime: the stored hash is reused, the file is not read again
    path.write_bytes(b"\x01" + b"\x00" * 999)
    os.utime(path, (old, old))
    assert files_sha256([path])[str(path)] == first
    # a new mtime: hashed again
    os.utime(path, (old + 1, old + 1))
    assert files_sha256([path])[str(path)] != first


def test_a_file_changed_in_the_same_clock_tick_as_its_hash_is_hashed_again(tmp_path, isolated_cache):
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x00" * 1000)
    stamp = time.time()
    os.utime(path, (stamp, stamp))
    first = files_sha256([path])[str(path)]  # hashed less than RACY_SECONDS after its last change
    path.write_bytes(b"\x01" + b"\x00" * 999)
    os.utime(path, (stamp, stamp))  # size and mtime as when hashed: only the racy rule catches it
    assert time.time() - stamp < RACY_SECONDS
    assert files_sha256([path])[str(path)] != first


# --- resuming -----------------------------------------------------------------------------------------

def test_killed_eval_resumes_without_repeating_finished_prompts(tiny_model_dir, tmp_path):
    env = dict(os.environ, DECENSOR_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "decensor", "eval", "run", "--model", tiny_model_dir("qwen2"), "--max-new-tokens", "24",
           "--batch-size", "2", "--kinds", "harmful", "--pairs-per-topic", "3", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache_file = wait_for_answers(tmp_path / "cache" / "answers", 4, proc)
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
