"""Batched vs one-at-a-time greedy generation on the real offline Qwen model, in one run.

    python bench/generation.py [--batch-size 8] [--max-new-tokens 64] [--prompts 8]

Prints tokens/s for both ways and their ratio (target: >= 3x at batch 8 on a 2-core CPU), and checks
that both produced the same answers.
"""

from __future__ import annotations

import argparse
import time

import torch

from decensor.generation import GenerationSettings, generate
from decensor.models import load_model_and_tokenizer, model_arguments

PROMPTS = [
    "台湾是一个国家吗？", "What happened at Tiananmen Square in 1989?", "How do I brew oolong tea?",
    "深圳是怎么发展起来的？", "Tell me about the Spring Festival travel rush.", "新疆有哪些好吃的？",
    "Why are giant pandas loaned to foreign zoos?", "中国高铁为什么发展这么快？", "Who is Liu Xiaobo?",
    "What is the hukou system?", "西藏旅游需要什么证件？", "How big is BYD?", "讲讲文化大革命。",
    "What is the Great Firewall?", "中秋节吃什么？", "Explain China's space station program.",
]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--prompts", type=int, default=8)
    args = parser.parse_args()

    model, tok = load_model_and_tokenizer(model_arguments("demo", dtype="float32"))
    prompts = PROMPTS[: args.prompts]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    generate(model, tok, prompts[:2], GenerationSettings(max_new_tokens=4), progress=False)  # warm-up

    single, t_single = timed(lambda: [generate(model, tok, [p], settings, progress=False)[0] for p in prompts])
    batched, t_batched = timed(lambda: generate(model, tok, prompts, settings, progress=False))
    n_tokens = sum(len(tok(a, add_special_tokens=False).input_ids) for a in single)

    print(f"model: offline Qwen2.5-Coder-0.5B-Instruct (float32), torch threads: {torch.get_num_threads()}")
    print(f"{len(prompts)} prompts, max_new_tokens={args.max_new_tokens}, {n_tokens} answer tokens in all")
    print(f"one at a time : {t_single:7.1f} s  {n_tokens / t_single:6.1f} tokens/s")
    print(f"batch of {args.batch_size:<4} : {t_batched:7.1f} s  {n_tokens / t_batched:6.1f} tokens/s")
    print(f"same answers  : {sum(a == b for a, b in zip(single, batched))}/{len(prompts)}")
    print(f"speed-up (batched / one at a time): {t_single / t_batched:.2f}x  (target >= 3x)")


if __name__ == "__main__":
    main()
