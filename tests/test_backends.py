"""Backends on a CPU machine without vLLM: model placement, the arguments handed to vLLM and to an
OpenAI-compatible endpoint, token ids instead of text, LoRA ranks, and the backend flags."""

import argparse
import json

import pytest

from decensor.generation import GenerationSettings, ModelSpec, add_backend_arguments, backend_options, generate
from decensor.generation.backends import (BackendUnavailable, TransformersBackend, adapter_lora_rank, openai_request,
                                          transformers_placement, vllm_engine_kwargs, vllm_lora_slot,
                                          vllm_sampling_kwargs)

PROMPTS = ["台湾是一个国家吗？", "What happened at Tiananmen Square in 1989?", "How do I brew oolong tea?", "x"]


# --- transformers: where the model goes -------------------------------------------------------------------

def test_placement_auto_on_cuda_cpu_otherwise():
    assert transformers_placement(None, False, cuda_available=True) == \
        {"device_map": "auto", "device": "cuda", "merge_adapter": True}
    assert transformers_placement(None, False, cuda_available=False) == \
        {"device_map": "cpu", "device": "cpu", "merge_adapter": True}
    # an explicit map wins; "cpu" keeps a GPU machine's model on the CPU
    assert transformers_placement("cpu", False, cuda_available=True)["device"] == "cpu"
    assert transformers_placement("cuda:1", False, cuda_available=True)["device_map"] == "cuda:1"


def test_four_bit_needs_a_gpu_and_keeps_the_adapter_separate():
    placed = transformers_placement(None, True, cuda_available=True)
    assert placed["device_map"] == "auto" and placed["merge_adapter"] is False
    with pytest.raises(BackendUnavailable, match="needs a CUDA GPU"):
        transformers_placement(None, True, cuda_available=False)
    with pytest.raises(BackendUnavailable, match="on a GPU"):
        transformers_placement("cpu", True, cuda_available=True)


def test_four_bit_spec_asks_for_nf4_quantization():
    from trl import get_quantization_config

    margs = ModelSpec("some/model", load_in_4bit=True, dtype="bfloat16").model_arguments()
    config = get_quantization_config(margs)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert get_quantization_config(ModelSpec("some/model").model_arguments()) is None


def test_transformers_backend_answers_as_generate_does(tiny_model_dir):
    """The backend (placed by device_map on this CPU machine) gives the same greedy answers as before."""
    from decensor.models import load_model_and_tokenizer, model_arguments

    settings = GenerationSettings(max_new_tokens=10, batch_size=3)
    backend = TransformersBackend(ModelSpec(tiny_model_dir("qwen2"), dtype="float32"))
    assert next(backend.model.parameters()).device.type == "cpu"
    answers = [None] * len(PROMPTS)
    for batch in backend.iter_generate(PROMPTS, settings, progress=False):
        for i, a in batch:
            answers[i] = a
    model, tok = load_model_and_tokenizer(model_arguments(tiny_model_dir("qwen2"), dtype="float32"))
    assert answers == generate(model, tok, PROMPTS, settings, progress=False)


# --- vLLM: engine and sampling arguments ------------------------------------------------------------------

def test_vllm_engine_kwargs():
    spec = ModelSpec("Qwen/Qwen2.5-72B-Instruct", backend="vllm", dtype="bfloat16", tensor_parallel_size=8,
                     max_model_len=8192, gpu_memory_utilization=0.85, revision="a" * 40)
    kwargs = vllm_engine_kwargs(spec, "Qwen/Qwen2.5-72B-Instruct")
    assert kwargs == dict(model="Qwen/Qwen2.5-72B-Instruct", tokenizer="Qwen/Qwen2.5-72B-Instruct",
                          revision="a" * 40, tokenizer_revision="a" * 40, trust_remote_code=False, dtype="bfloat16",
                          tensor_parallel_size=8, gpu_memory_utilization=0.85, max_model_len=8192)
    assert "enable_lora" not in kwargs and "quantization" not in kwargs
    four_bit = vllm_engine_kwargs(ModelSpec("m", backend="vllm", load_in_4bit=True), "m")
    assert four_bit["quantization"] == "bitsandbytes" and "max_model_len" not in four_bit
    gguf = vllm_engine_kwargs(ModelSpec("m", backend="vllm", gguf_file="q4.gguf"), "/models/m")
    assert gguf["model"] == "/models/m/q4.gguf" and gguf["tokenizer"] == "/models/m"


def test_vllm_lora_rank_comes_from_the_adapter(tiny_model_dir, tmp_path):
    from decensor.testing import build_tiny_adapter

    adapter = build_tiny_adapter(tiny_model_dir("qwen2"), tmp_path / "adapter")  # r=4
    assert adapter_lora_rank(adapter) == 4
    spec = ModelSpec(tiny_model_dir("qwen2"), adapter=str(adapter), backend="vllm")
    kwargs = vllm_engine_kwargs(spec, tiny_model_dir("qwen2"), adapter_lora_rank(adapter))
    assert kwargs["enable_lora"] is True and kwargs["max_loras"] == 1 and kwargs["max_lora_rank"] == 8

    config = json.loads((adapter / "adapter_config.json").read_text())
    config.update(r=16, rank_pattern={"q_proj": 96})  # the largest rank decides the slot
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    assert adapter_lora_rank(adapter) == 96 and vllm_lora_slot(96) == 128
    with pytest.raises(ValueError, match="above vLLM's largest"):
        vllm_lora_slot(1024)
    config["r"] = "sixteen"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"adapter_config.json: field r"):
        adapter_lora_rank(adapter)
    with pytest.raises(FileNotFoundError, match="adapter_config.json: missing"):
        adapter_lora_rank(tmp_path)


def test_vllm_sampling_kwargs():
    assert vllm_sampling_kwargs(GenerationSettings(max_new_tokens=7)) == dict(max_tokens=7, temperature=0.0, top_p=1.0)
    sampled = vllm_sampling_kwargs(GenerationSettings(max_new_tokens=7, do_sample=True, temperature=0.6, top_p=0.9,
                                                      seed=3))
    assert sampled == dict(max_tokens=7, temperature=0.6, top_p=0.9, seed=3)


def test_token_ids_carry_one_bos_on_templates_that_write_it():
    """DeepSeek's template writes the BOS itself and its tokenizer adds one too: text sent to vLLM would start
    with two. The ids every backend uses are tokenized without adding special tokens."""
    from decensor.generation import chat_prompt, chat_token_ids
    from decensor.testing import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    tok.bos_token = "<|endoftext|>"
    tok.add_bos_token = True  # like DeepSeek's LlamaTokenizerFast
    tok.chat_template = ("{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                         "<|im_end|>\n{% endfor %}<|im_start|>assistant\n")
    settings = GenerationSettings()
    text_ids = tok(chat_prompt(tok, "hi", settings)).input_ids
    assert text_ids[:2] == [tok.bos_token_id, tok.bos_token_id]  # the bug this avoids
    ids = chat_token_ids(tok, "hi", settings)
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id and ids == text_ids[1:]


# --- openai: the request ----------------------------------------------------------------------------------

def test_openai_request():
    greedy = openai_request("m", "hi", GenerationSettings(max_new_tokens=9, system_prompt="Be factual."))
    assert greedy == dict(model="m", messages=[{"role": "system", "content": "Be factual."},
                                               {"role": "user", "content": "hi"}], max_tokens=9, temperature=0.0)
    sampled = openai_request("m", "hi", GenerationSettings(do_sample=True, temperature=0.5, top_p=0.8, seed=10,
                                                           enable_thinking=False), index=3)
    assert (sampled["temperature"], sampled["top_p"], sampled["seed"]) == (0.5, 0.8, 13)
    assert sampled["extra_body"] == {"chat_template_kwargs": {"enable_thinking": False}}


def test_reasoning_field_is_put_back_as_think():
    from openai.types.chat import ChatCompletionMessage

    from decensor.generation.backends import answer_text

    plain = ChatCompletionMessage(role="assistant", content=" Answer. ")
    assert answer_text(plain) == "Answer."
    thinking = ChatCompletionMessage.model_validate({"role": "assistant", "content": "Answer.",
                                                     "reasoning_content": "Let me think."})
    assert answer_text(thinking) == "<think>Let me think.</think>Answer."


# --- the spec and the flags -------------------------------------------------------------------------------

def test_spec_validation():
    with pytest.raises(ValueError, match="unknown backend"):
        ModelSpec("m", backend="tgi")
    with pytest.raises(ValueError, match="needs --base-url"):
        ModelSpec("m", backend="openai")
    with pytest.raises(ValueError, match="cannot apply a local adapter"):
        ModelSpec("m", backend="openai", base_url="http://x/v1", adapter="runs/a")
    with pytest.raises(ValueError, match=r"unknown backend option\(s\) \['tp'\]"):
        ModelSpec.create("m", {"tp": 2})
    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        ModelSpec("m", gpu_memory_utilization=1.5)


def test_backend_flags_become_spec_options():
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    args = parser.parse_args(["--backend", "vllm", "--tensor-parallel-size", "4", "--max-model-len", "4096",
                              "--gpu-memory-utilization", "0.8", "--load-in-4bit"])
    options = backend_options(args)
    assert options == {"tensor_parallel_size": 4, "max_model_len": 4096, "gpu_memory_utilization": 0.8,
                       "load_in_4bit": True}
    spec = ModelSpec.create("m", options, backend=args.backend)
    assert (spec.tensor_parallel_size, spec.max_model_len, spec.device_map) == (4, 4096, None)
    args = parser.parse_args(["--backend", "openai", "--base-url", "http://h/v1", "--concurrency", "3",
                              "--request-timeout", "30"])
    spec = ModelSpec.create("m", backend_options(args), backend=args.backend)
    assert (spec.base_url, spec.concurrency, spec.timeout, spec.max_retries) == ("http://h/v1", 3, 30.0, 5)


def test_generation_imports_neither_eval_nor_data():
    import subprocess
    import sys

    code = ("import sys, decensor.generation, decensor.generation.backends, decensor.generation.answers; "
            "print(sorted(m for m in sys.modules if m.startswith(('decensor.eval', 'decensor.data'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hub_model_is_keyed_by_its_commit():
    from decensor.generation import cache_key

    pinned = ModelSpec("Qwen/Qwen2.5-7B-Instruct", revision="b" * 40, dtype="bfloat16", backend="vllm")
    key = cache_key(pinned, GenerationSettings())
    assert key["model"] == {"hub": "Qwen/Qwen2.5-7B-Instruct", "commit": "b" * 40, "gguf_file": None}
    assert key["dtype"] == "bfloat16" and key["device"] == "cuda"
    other = ModelSpec("Qwen/Qwen2.5-7B-Instruct", revision="c" * 40, dtype="bfloat16", backend="vllm")
    assert cache_key(other, GenerationSettings()) != key
