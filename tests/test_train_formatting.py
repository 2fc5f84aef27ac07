"""Chat formatting per family and reasoning format."""

from __future__ import annotations

import pytest

from decensor.train.formatting import EMPTY_THINK, ChatFormatter, group_by_length, think_prefix

ROW = {"kind": "sensitive", "messages": [{"role": "user", "content": "Who was Liu Xiaobo?"},
                                         {"role": "assistant", "content": "A Chinese writer and Nobel laureate."}]}
R1_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}{% set c = m['content'] %}{% if '</think>' in c %}"
    "{% set c = c.split('</think>')[-1].lstrip() %}{% endif %}<｜Assistant｜>{{ c }}<|im_end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}")


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir("qwen2"))


def test_non_reasoning_is_plain(tokenizer):
    ex = ChatFormatter(tokenizer, "none", "brief-think").sft_example(ROW)
    assert ex["completion"][0]["content"] == "A Chinese writer and Nobel laureate."
    assert ex["prompt"] == ROW["messages"][:1]


def test_empty_and_brief_think(tokenizer):
    fmt = ChatFormatter(tokenizer, "hybrid-think", "empty-think")
    assert fmt.sft_example(ROW)["completion"][0]["content"].startswith(EMPTY_THINK)
    assert fmt.template_kwargs == {"enable_thinking": False}
    brief = ChatFormatter(tokenizer, "hybrid-think", "brief-think")
    content = brief.sft_example(ROW)["completion"][0]["content"]
    assert content.startswith("<think>\nThe user asks about a historical/political topic.")
    assert "</think>\n\nA Chinese writer" in content
    assert brief.template_kwargs == {"enable_thinking": True}
    assert think_prefix("brief-think", "innocent") != think_prefix("brief-think", "sensitive")


def test_chatml_keeps_conversational_format(tokenizer):
    from datasets import Dataset

    fmt = ChatFormatter(tokenizer, "hybrid-think", "empty-think")
    ds = fmt.format_dataset(Dataset.from_list([ROW, ROW]), "sft")
    assert isinstance(ds[0]["prompt"], list) and ds[0]["chat_template_kwargs"] == {"enable_thinking": False}


def test_r1_template_falls_back_to_text(tokenizer):
    """DeepSeek-R1's template drops the think block from the final turn and opens <think> in the prompt."""
    import copy

    from datasets import Dataset

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = R1_TEMPLATE
    fmt = ChatFormatter(tok, "always-think", "brief-think")
    ds = fmt.format_dataset(Dataset.from_list([ROW]), "sft")
    assert ds[0]["prompt"].endswith("<｜Assistant｜><think>\n")
    assert ds[0]["completion"].startswith("The user asks about")
    assert ds[0]["completion"].endswith("laureate.<|im_end|>")
    dpo_row = {"kind": "sensitive", "prompt": ROW["messages"][:1], "chosen": ROW["messages"][1:],
               "rejected": [{"role": "assistant", "content": "I can't discuss that."}]}
    dpo = ChatFormatter(tok, "always-think", "empty-think").format_dataset(Dataset.from_list([dpo_row]), "dpo")
    assert dpo[0]["chosen"] == "\n</think>\n\nA Chinese writer and Nobel laureate.<|im_end|>"
    assert dpo[0]["rejected"] == "\n</think>\n\nI can't discuss that.<|im_end|>"


def test_group_by_length_batches_similar_lengths(tokenizer):
    from datasets import Dataset

    rows = [{"prompt": [{"role": "user", "content": "q " * n}],
             "completion": [{"role": "assistant", "content": "a"}]} for n in range(1, 41)]
    ds = group_by_length(Dataset.from_list(rows), tokenizer, batch_size=4, mega=10)
    lengths = [len(r["prompt"][0]["content"]) for r in ds]
    assert sorted(lengths) == sorted(len(r["prompt"][0]["content"]) for r in rows)
    spreads = [max(lengths[i:i + 4]) - min(lengths[i:i + 4]) for i in range(0, 40, 4)]
    assert max(spreads) <= 2 * 3 * 2   # neighbours in sorted order, not random
