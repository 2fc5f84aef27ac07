"""Measure the per-unit costs behind `decensor demo --plan` (decensor.demo.UNIT_COSTS.measured) on this machine.

    OMP_NUM_THREADS=1 python bench/demo_costs.py [--layers 4 8 12]
    python bench/demo_costs.py --wall-threads 2 --batches 32 64 --rounds 1 --decode-steps 24 --skip-training

The second form (idle machine only) times generation in wall seconds on 2 threads, as the demo runs it. On
2026-12-03 it gave 0.554 s per decode step at batch 32 and 1.022 s at batch 64, so the demo keeps batch 32
(recipes/demo-cpu/README.md); these wall numbers are not in UNIT_COSTS, which holds one-thread CPU time.

Prints CPU-seconds of ONE thread for each unit, under the names UNIT_COSTS uses. One thread and CPU time
(not wall time) because the numbers were taken on a shared machine: a 2-thread run loses CPU to threads
spinning at OpenMP barriers while the other waits for a core, and wall time counts the other jobs. On an idle
2-core machine, divide by decensor.demo.TWO_CORE_SPEEDUP (or time a run with 2 threads and use that).
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def seconds(fn, clock=time.process_time) -> float:
    """Seconds of ``fn`` on ``clock``: CPU time by default, wall time with --wall-threads."""
    start = clock()
    fn()
    return clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 8, 12])
    parser.add_argument("--rounds", type=int, default=3, help="decode measurements per batch size, interleaved")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64], help="decode batch sizes")
    parser.add_argument("--decode-steps", type=int, default=6,
                        help="decode steps timed (minus a 1-token run, so the prefill cancels); more is less noisy")
    parser.add_argument("--skip-training", action="store_true", help="measure generation only")
    parser.add_argument("--wall-threads", type=int, default=0,
                        help="time wall seconds on this many threads (idle machine) instead of one-thread CPU time")
    args = parser.parse_args()
    clock = time.perf_counter if args.wall_threads else time.process_time
    torch.set_num_threads(args.wall_threads or 1)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from decensor.eval.suites import load_suites, select
    from decensor.generation import GenerationSettings, chat_prompt
    from decensor.models.demo_model import fetch_demo_model

    folder = str(fetch_demo_model())
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    prompts = select(load_suites(), kinds=["sensitive"], langs=["en", "zh"])[:max(args.batches)]
    texts = [chat_prompt(tok, p.prompt, GenerationSettings()) for p in prompts]
    out: dict[str, float | list] = {}

    def generate(batch: int, tokens: int) -> float:
        enc = tok(texts[:batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            return seconds(lambda: model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens,
                                                  do_sample=False, pad_token_id=tok.pad_token_id), clock)

    generate(2, 2)   # page the weights in
    for batch in sorted({16, *args.batches}):   # prefill_16xN is the unit UNIT_COSTS uses
        enc = tok(texts[:batch], return_tensors="pt", padding=True, add_special_tokens=False)
        out[f"prefill_{batch}x{enc.input_ids.shape[1]}"] = round(generate(batch, 1), 3)
    for r in range(args.rounds):
        for batch in args.batches:
            steps = args.decode_steps
            out.setdefault(f"decode_step_{batch}", []).append(
                round((generate(batch, steps + 1) - generate(batch, 1)) / steps, 3))
    print(json.dumps(out), flush=True)
    if args.skip_training:
        return

    torch.manual_seed(0)
    ids = torch.randint(100, 150000, (2, 512))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out["forward_2x512"] = round(seconds(lambda: model(input_ids=ids), clock), 3)
    layers = model.config.num_hidden_layers
    base = model
    for n in args.layers:
        config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                            layers_to_transform=list(range(layers - n, layers)))
        peft_model = get_peft_model(base, config)
        peft_model.train()
        optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-4)

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = peft_model(input_ids=ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

        out[f"sft_step_2x512_last_{n}"] = [round(seconds(step, clock), 3) for _ in range(2)]
        base = peft_model.unload()
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
