import pytest

from decensor.generation import GenerationSettings, chat_prompt, generate
from decensor.models import load_model_and_tokenizer, model_arguments

PROMPTS = ["台湾是一个国家吗？", "What happened at Tiananmen Square in 1989?", "How do I brew oolong tea?",
           "深圳是怎么发展起来的？", "Tell me about the Spring Festival travel rush.", "x"]


@pytest.mark.parametrize("family", ["qwen2", "deepseek-v3"])
def test_batched_greedy_equals_one_at_a_time_on_tiny_models(tiny_model_dir, family):
    model, tok = load_model_and_tokenizer(model_arguments(tiny_model_dir(family), family=family))
    tok.padding_side = "right"  # generation pads on the left, then gives the tokenizer back as it was
    settings = GenerationSettings(max_new_tokens=12, batch_size=4)
    batched = generate(model, tok, PROMPTS, settings, progress=False)
    single = [generate(model, tok, [p], settings, progress=False)[0] for p in PROMPTS]
    assert batched == single
    assert tok.padding_side == "right"


def test_system_prompt_and_thinking_flag_reach_the_template(tiny_model_dir):
    _, tok = load_model_and_tokenizer(model_arguments(tiny_model_dir("qwen2")))
    text = chat_prompt(tok, "hi", GenerationSettings(system_prompt="Be factual."))
    assert text.startswith("<|im_start|>system\nBe factual.<|im_end|>")
    # Qwen3's switch: enable_thinking=False makes the template write an empty <think></think> block
    tok.chat_template += "{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    off = chat_prompt(tok, "hi", GenerationSettings(enable_thinking=False))
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    for flag in (None, True):  # None: the template's default, nothing passed
        assert "<think>" not in chat_prompt(tok, "hi", GenerationSettings(enable_thinking=flag))


def test_sampling_is_seeded(tiny_model_dir):
    model, tok = load_model_and_tokenizer(model_arguments(tiny_model_dir("qwen2")))
    s = GenerationSettings(max_new_tokens=10, do_sample=True, temperature=1.0, seed=3)
    assert generate(model, tok, PROMPTS[:3], s, progress=False) == generate(model, tok, PROMPTS[:3], s, progress=False)


def test_cache_key_ignores_batch_size_and_unused_sampling_settings():
    a = GenerationSettings(batch_size=1, temperature=0.1).cache_key()
    b = GenerationSettings(batch_size=16, temperature=0.9).cache_key()
    assert a == b
    assert GenerationSettings(do_sample=True, temperature=0.1).cache_key() != \
        GenerationSettings(do_sample=True, temperature=0.9).cache_key()


@pytest.mark.slow
def test_real_model_batched_greedy_equals_one_at_a_time(demo_model):
    model, tok = demo_model
    prompts = PROMPTS[:5]
    settings = GenerationSettings(max_new_tokens=40, batch_size=8)
    batched = generate(model, tok, prompts, settings, progress=False)
    single = [generate(model, tok, [p], settings, progress=False)[0] for p in prompts]
    assert batched == single
    assert all(batched)
