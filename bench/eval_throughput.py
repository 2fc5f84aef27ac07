"""Evaluation throughput on the real offline Qwen model: ours (batched, length-sorted, cached) vs a naive
loop (one prompt at a time through model.generate), measured in one run, printed as a ratio.

    python bench/eval_throughput.py [--prompts 16] [--max-new-tokens 64] [--batch-size 16]

Both sides answer the same prompts of eval/suites (a fixed slice of both languages and all kinds) and
are judged by the rule judge; only generation + judging is timed (model loading is not). The answer
cache is not used, so this measures batching alone; a cached re-run costs nothing on top.
"""

from __future__ import annotations

import argparse
import time

import torch

from decensor.eval.judges import RuleJudge
from decensor.eval.suites import load_suites, select
from decensor.generation import GenerationSettings, ModelSpec, chat_prompt, generate
from decensor.generation.backends import TransformersBackend


def naive_answer(model, tok, prompt: str, settings: GenerationSettings) -> str:
    text = chat_prompt(tok, prompt, settings)
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**enc, max_new_tokens=settings.max_new_tokens, do_sample=False,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return tok.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    prompts = select(load_suites(), pairs_per_topic=1, langs=["en", "zh"])[:: 7][: args.prompts]
    backend = TransformersBackend(ModelSpec("demo", dtype="float32"))  # what `eval run` generates with
    model, tok = backend.model, backend.tokenizer
    judge = RuleJudge()
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    generate(model, tok, ["warm-up"], GenerationSettings(max_new_tokens=4), progress=False)

    start = time.perf_counter()
    naive = [naive_answer(model, tok, p.prompt, settings) for p in prompts]
    [judge.judge(p, a) for p, a in zip(prompts, naive)]
    t_naive = time.perf_counter() - start

    start = time.perf_counter()
    ours: list[str] = [""] * len(prompts)
    for batch in backend.iter_generate([p.prompt for p in prompts], settings, progress=False):
        for i, answer in batch:
            ours[i] = answer
    [judge.judge(p, a) for p, a in zip(prompts, ours)]
    t_ours = time.perf_counter() - start

    print(f"model: offline Qwen2.5-Coder-0.5B-Instruct (float32, {next(model.parameters()).device}), "
          f"torch threads: {torch.get_num_threads()}")
    print(f"{len(prompts)} prompts ({sum(p.lang == 'zh' for p in prompts)} zh), max_new_tokens={args.max_new_tokens}")
    print(f"naive loop : {t_naive:7.1f} s  {len(prompts) / t_naive:.3f} answers/s")
    print(f"ours       : {t_ours:7.1f} s  {len(prompts) / t_ours:.3f} answers/s  (batch {args.batch_size})")
    print(f"identical answers: {sum(a == b for a, b in zip(naive, ours))}/{len(prompts)}")
    print(f"speed-up (ours / naive): {t_naive / t_ours:.2f}x")


if __name__ == "__main__":
    main()
