"""GPU smoke test: the most of decensor's training path one GPU can prove in under 9 minutes, with no model hub.

    python bench/gpu_smoke.py [--out runs/gpu-smoke] [--tiny]

Random weights in the real shapes (built on the GPU, saved as safetensors with a small byte-level tokenizer),
trained through the same code as `decensor train`:

1. **QLoRA SFT on Qwen2.5-7B shapes, killed and resumed**: a child process trains with
   ``DECENSOR_TRAIN_KILL_AFTER_SAVE`` and dies by SIGKILL right after its first checkpoint; the same recipe
   then resumes from that checkpoint in this process and finishes.
2. **DPO from that adapter** (QLoRA, the SFT adapter's frozen copy is the reference).
3. **LoRA on the routed experts of an 8-layer Qwen3-30B-A3B-shaped MoE** (attention + fused experts at rank 4
   per expert, bf16, MoE blocks as ZeRO-3 leaves).
4. **Generation with the merged adapter**: the DPO adapter merged into the bf16 7B base, batched greedy decoding.
5. **Fused kernels on and off**: LoRA training steps on the 7B shapes with eager attention and padded batches,
   then with SDPA (FlashAttention 2 when ``flash_attn`` is importable), packed rows and Liger kernels (when
   ``liger_kernel`` is importable); the ratio of real tokens per second.

Each phase reports tokens/s, MFU (6 x active parameters x tokens/s over the GPU's dense bf16 peak; LoRA with
gradient checkpointing does about that much work: forward, recompute, input gradients), peak GPU memory
(allocated and reserved) next to ``decensor plan``'s prediction for the same set-up on one GPU. Everything goes
into one JSON file (``<out>/gpu_smoke.json``). ``--tiny`` runs the same phases with tiny shapes on the CPU
(the test suite does, to keep this script working without a GPU).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DENSE = "qwen2.5-7b"
MOE = "qwen3-30b-a3b-8layers"
SHAPES = {
    DENSE: dict(model_type="qwen2", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                num_attention_heads=28, num_key_value_heads=4, vocab_size=152064, max_position_embeddings=32768,
                rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False),
    MOE: dict(model_type="qwen3_moe", hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768,
              num_hidden_layers=8, num_attention_heads=32, num_key_value_heads=4, head_dim=128, num_experts=128,
              num_experts_per_tok=8, vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0,
              tie_word_embeddings=False),
}
# Dense bf16 peak FLOP/s (no sparsity) by GPU name.
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "H800": 989e12, "A100": 312e12, "L40S": 362e12}
DPO_DATA = ["data/dpo/harmful-refusal.jsonl", "data/dpo/innocent-*.jsonl", "data/dpo/sensitive-*.jsonl"]
EXPERTS = ["mlp.experts.gate_up_proj:4", "mlp.experts.down_proj:4"]


def settings(tiny: bool) -> dict:
    if tiny:
        return dict(seq=128, sft_batch=2, sft_steps=4, dpo_batch=2, dpo_steps=2, moe_batch=2, moe_steps=2,
                    gen_batch=4, gen_tokens=16, kernel_batch=4, kernel_steps=2)
    return dict(seq=2048, sft_batch=4, sft_steps=12, dpo_batch=2, dpo_steps=6, moe_batch=4, moe_steps=8,
                gen_batch=16, gen_tokens=128, kernel_batch=8, kernel_steps=4)


class Gpu:
    """Peak memory and the MFU denominator; empty on a CPU."""

    def __init__(self):
        import torch

        self.cuda = torch.cuda.is_available()
        self.name = torch.cuda.get_device_name(0) if self.cuda else "cpu"
        self.total_gib = torch.cuda.get_device_properties(0).total_memory / 2 ** 30 if self.cuda else None
        self.peak_flops = next((v for k, v in PEAK_FLOPS.items() if k in self.name), None)

    def reset(self):
        import torch

        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak(self) -> dict:
        import torch

        if not self.cuda:
            return {"allocated_gib": None, "reserved_gib": None}
        return {"allocated_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2),
                "reserved_gib": round(torch.cuda.max_memory_reserved() / 2 ** 30, 2)}

    def mfu(self, active_params: float, tokens_per_s: float | None) -> float | None:
        if not self.peak_flops or not tokens_per_s:
            return None
        return round(6 * active_params * tokens_per_s / self.peak_flops, 4)


def active_params(cfg: dict) -> float:
    """Parameters one token passes through (lm_head included, input embedding and unrouted experts not)."""
    from decensor.train.plan import arch_from_config, linear_params, other_params

    a = arch_from_config(cfg)
    routed = a.experts_per_tok * 3 * a.hidden * a.moe_intermediate if a.experts else 0
    per_layer = sum(linear_params(a, i) + other_params(a, i) + (routed if a.is_moe_layer(i) else 0)
                    for i in range(a.layers))
    return float(per_layer + a.vocab * a.hidden)


def build_model(name: str, out: Path, tiny: bool, device: str) -> tuple[Path, dict]:
    """Random weights in ``name``'s shapes, saved with a tiny tokenizer; returns (folder, config dict)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from decensor.testing import TINY_CONFIGS, build_tiny_tokenizer

    spec = dict(TINY_CONFIGS["qwen2" if name == DENSE else "qwen3-moe"] if tiny else SHAPES[name])
    if (out / "config.json").exists():
        return out, json.loads((out / "config.json").read_text())
    tokenizer = build_tiny_tokenizer()
    spec.setdefault("vocab_size", len(tokenizer))
    config = AutoConfig.for_model(spec.pop("model_type"), eos_token_id=tokenizer.eos_token_id,
                                  pad_token_id=tokenizer.pad_token_id, bos_token_id=None, **spec)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    return out, json.loads((out / "config.json").read_text())


def write_recipe(path: Path, **keys) -> Path:
    """Write a recipe for a fresh run: the bench owns its work folder, so an earlier run's output goes."""
    import shutil

    import yaml

    shutil.rmtree(keys["output_dir"], ignore_errors=True)
    path.write_text(yaml.safe_dump(keys, sort_keys=False), encoding="utf-8")
    return path


def base_recipe(model: Path, family: str, stage: str, out: Path, s: dict, tiny: bool, **extra) -> dict:
    r = dict(stage=stage, model_name_or_path=str(model), family=family, dtype="float32" if tiny else "bfloat16",
             attn_implementation="sdpa", use_peft=True, lora_r=16, lora_alpha=32, lora_dropout=0.0,
             max_length=s["seq"], learning_rate=1e-4, logging_steps=1, save_strategy="steps", report_to="none",
             gradient_checkpointing=not tiny, bf16=not tiny, seed=0, output_dir=str(out),
             dataset=list(s["sft_data"] if stage == "sft" else s["dpo_data"]))
    if stage == "sft":
        r["packing"] = True
    r.update(extra)
    return r


def plan_prediction(cfg: dict, quant: str, stage: str, seq: int, batch: int, targets, expert_r: int = 0) -> dict:
    from decensor.train.plan import PlanInput, arch_from_config, estimate

    p = PlanInput(model_id="smoke", arch=arch_from_config(cfg), stage=stage, quant=quant, lora_r=16,
                  targets=targets, expert_r=expert_r, seq_len=seq, micro_batch=batch)
    est = estimate(p, 1)
    return {"training_gib": round(est.total, 2), "load_gib": round(est.load_peak, 2),
            "peak_gib": round(est.peak, 2)}


def run_stats(out: Path, started: float) -> dict:
    done = json.loads((out / "run_complete.json").read_text())
    history = json.loads((out / "log_history.json").read_text())
    tokens = [h["num_tokens"] for h in history if "num_tokens" in h]
    runtime = done.get("train_runtime_s") or (time.time() - started)
    first = [h for h in history if "num_tokens" in h and h.get("step", 0) > 0]
    done_tokens = (tokens[-1] - (first[0]["num_tokens"] if done.get("resumed_from") and first else 0)) if tokens else None
    return {"global_step": done["global_step"], "resumed_from": done.get("resumed_from"),
            "train_runtime_s": runtime, "tokens": done_tokens,
            "tokens_per_s": round(done_tokens / runtime, 1) if done_tokens and runtime else None,
            "final_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None)}


def phase_sft(work: Path, model: Path, cfg: dict, s: dict, tiny: bool, gpu: Gpu) -> dict:
    from decensor.train.run import KILL_ENV, run_recipe

    out = work / "sft-qlora"
    kill_at = s["sft_steps"] // 2
    recipe = write_recipe(work / "sft-qlora.yaml", **base_recipe(
        model, "qwen2", "sft", out, s, tiny, load_in_4bit=True, bnb_4bit_quant_type="nf4",
        use_bnb_nested_quant=True, per_device_train_batch_size=s["sft_batch"], max_steps=s["sft_steps"],
        save_steps=kill_at))
    env = dict(os.environ, **{KILL_ENV: str(kill_at)})
    gpu.reset()   # the child needs the GPU memory this process cached while building the models
    t0 = time.time()
    child = subprocess.run([sys.executable, "-m", "decensor.train", str(recipe)], cwd=REPO, env=env,
                           capture_output=True, text=True)
    (work / "sft-killed.log").write_text(child.stdout + child.stderr)
    killed_s = time.time() - t0
    if child.returncode != -9 or not (out / f"checkpoint-{kill_at}").is_dir():
        raise RuntimeError(f"the killed SFT run ended with {child.returncode} and no checkpoint-{kill_at}; "
                           f"see {work / 'sft-killed.log'}")
    gpu.reset()
    t0 = time.time()
    run_recipe(recipe)
    stats = run_stats(out, t0)
    if stats["resumed_from"] != f"checkpoint-{kill_at}" or stats["global_step"] != s["sft_steps"]:
        raise RuntimeError(f"SFT did not resume from checkpoint-{kill_at}: {stats}")
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return {**stats, "killed_at_step": kill_at, "killed_run_s": round(killed_s, 1),
            "resume_wall_s": round(time.time() - t0, 1), "peak_memory": gpu.peak(),
            "mfu": gpu.mfu(active_params(cfg), stats["tokens_per_s"]),
            "plan": plan_prediction(cfg, "nf4", "sft", s["seq"], s["sft_batch"], targets)}


def phase_dpo(work: Path, model: Path, cfg: dict, s: dict, tiny: bool, gpu: Gpu) -> dict:
    from decensor.train.run import run_recipe

    out = work / "dpo-qlora"
    recipe = write_recipe(work / "dpo-qlora.yaml", **base_recipe(
        model, "qwen2", "dpo", out, s, tiny, load_in_4bit=True, bnb_4bit_quant_type="nf4",
        use_bnb_nested_quant=True, init_adapter=str(work / "sft-qlora"), beta=0.1,
        per_device_train_batch_size=s["dpo_batch"], max_steps=s["dpo_steps"], save_steps=s["dpo_steps"]))
    gpu.reset()
    t0 = time.time()
    run_recipe(recipe)
    stats = run_stats(out, t0)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    # DPO runs the policy (forward+backward) and the reference (forward) on chosen and rejected
    return {**stats, "wall_s": round(time.time() - t0, 1), "peak_memory": gpu.peak(),
            "mfu": gpu.mfu(active_params(cfg) * 8 / 6, stats["tokens_per_s"]),
            "plan": plan_prediction(cfg, "nf4", "dpo", s["seq"], s["dpo_batch"], targets)}


def phase_moe(work: Path, model: Path, cfg: dict, s: dict, tiny: bool, gpu: Gpu) -> dict:
    from peft import PeftConfig

    from decensor.train.run import run_recipe

    out = work / "moe-experts"
    targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
    recipe = write_recipe(work / "moe-experts.yaml", **base_recipe(
        model, "qwen3-moe", "sft", out, s, tiny, lora_target_modules=targets, lora_target_parameters=EXPERTS,
        per_device_train_batch_size=s["moe_batch"], max_steps=s["moe_steps"], save_steps=s["moe_steps"]))
    gpu.reset()
    t0 = time.time()
    run_recipe(recipe)
    stats = run_stats(out, t0)
    adapter = PeftConfig.from_pretrained(str(out))
    return {**stats, "wall_s": round(time.time() - t0, 1), "peak_memory": gpu.peak(),
            "expert_parameters": sorted(adapter.target_parameters), "expert_rank": adapter.rank_pattern,
            "mfu": gpu.mfu(active_params(cfg), stats["tokens_per_s"]),
            "plan": plan_prediction(cfg, "bf16", "sft", s["seq"], s["moe_batch"], targets, expert_r=4)}


def phase_generate(work: Path, model: Path, s: dict, tiny: bool, gpu: Gpu) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gpu.reset()
    device = "cuda" if gpu.cuda else "cpu"
    t0 = time.time()
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32 if tiny else torch.bfloat16,
                                                device_map=device)
    merged = PeftModel.from_pretrained(base, str(work / "dpo-qlora")).merge_and_unload()
    load_s = time.time() - t0
    tok = AutoTokenizer.from_pretrained(model)
    tok.padding_side = "left"
    prompts = [tok.apply_chat_template([{"role": "user", "content": f"Question {i}: what happened in 1989?"}],
                                       tokenize=False, add_generation_prompt=True) for i in range(s["gen_batch"])]
    batch = tok(prompts, return_tensors="pt", padding=True).to(device)
    with torch.no_grad():
        merged.generate(**batch, max_new_tokens=4, do_sample=False)   # warm-up
        if gpu.cuda:
            torch.cuda.synchronize()
        t1 = time.time()
        out = merged.generate(**batch, max_new_tokens=s["gen_tokens"], min_new_tokens=s["gen_tokens"],
                              do_sample=False)
        if gpu.cuda:
            torch.cuda.synchronize()
        gen_s = time.time() - t1
    new_tokens = int((out.shape[1] - batch["input_ids"].shape[1]) * out.shape[0])
    result = {"batch": s["gen_batch"], "new_tokens": new_tokens, "load_and_merge_s": round(load_s, 1),
              "generate_s": round(gen_s, 2), "tokens_per_s": round(new_tokens / gen_s, 1),
              "peak_memory": gpu.peak()}
    del merged, base
    return result


def _batches(tok, s: dict, packed: bool):
    """Real token rows from the SFT data: packed into full rows, or one example per row padded to the longest."""
    import torch

    from decensor.data.jsonl import read_jsonl

    texts = []
    from decensor.data.jsonl import jsonl_files
    from decensor.data.loading import _resolve

    for f in jsonl_files(_resolve(x) for x in s["sft_data"]):
        texts += [tok.apply_chat_template(r["messages"], tokenize=False) for _, r in read_jsonl(f)]
    ids = [tok(t)["input_ids"][: s["seq"]] for t in texts]
    b = s["kernel_batch"]
    if packed:
        flat = [t for row in ids for t in row]
        rows = torch.tensor(flat[: (len(flat) // s["seq"]) * s["seq"]]).view(-1, s["seq"])
        for i in range(0, rows.shape[0] - b + 1, b):
            chunk = rows[i:i + b]
            yield {"input_ids": chunk, "labels": chunk}
        return
    for i in range(0, len(ids) - b + 1, b):
        group = ids[i:i + b]
        width = max(map(len, group))
        input_ids = torch.full((b, width), tok.pad_token_id)
        mask = torch.zeros((b, width), dtype=torch.long)
        for j, row in enumerate(group):
            input_ids[j, : len(row)] = torch.tensor(row)
            mask[j, : len(row)] = 1
        yield {"input_ids": input_ids, "attention_mask": mask, "labels": input_ids.masked_fill(mask == 0, -100)}


def _train_rate(model, batches, steps: int, gpu: Gpu) -> float:
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    device = next(model.parameters()).device
    done_tokens, elapsed = 0, 0.0
    for i, batch in enumerate(batches):
        if i >= steps + 1:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        if gpu.cuda:
            torch.cuda.synchronize()
        t0 = time.time()
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if gpu.cuda:
            torch.cuda.synchronize()
        if i:   # step 0 is warm-up
            elapsed += time.time() - t0
            done_tokens += int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
    return done_tokens / elapsed if elapsed else 0.0


def phase_kernels(model: Path, cfg: dict, s: dict, tiny: bool, gpu: Gpu) -> dict:
    """LoRA training steps: eager attention + padded batches vs SDPA/FlashAttention + packed rows + Liger."""
    import importlib.util

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gpu.reset()
    device = "cuda" if gpu.cuda else "cpu"
    tok = AutoTokenizer.from_pretrained(model)
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32 if tiny else torch.bfloat16,
                                                device_map=device, attn_implementation="eager")
    if not tiny:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    base.enable_input_require_grads()
    lora = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj",
                                                                                  "o_proj", "gate_proj", "up_proj",
                                                                                  "down_proj"]))
    plain = _train_rate(lora, _batches(tok, s, packed=False), s["kernel_steps"], gpu)
    fused_attn = ("flash_attention_2" if gpu.cuda and importlib.util.find_spec("flash_attn") else "sdpa")
    base.set_attn_implementation(fused_attn)
    liger = importlib.util.find_spec("liger_kernel") is not None and gpu.cuda
    if liger:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=base)
    fused = _train_rate(lora, _batches(tok, s, packed=True), s["kernel_steps"], gpu)
    result = {"baseline": {"attention": "eager", "batches": "padded", "liger": False,
                           "tokens_per_s": round(plain, 1), "mfu": gpu.mfu(active_params(cfg), plain)},
              "fused": {"attention": fused_attn, "batches": "packed", "liger": liger,
                        "tokens_per_s": round(fused, 1), "mfu": gpu.mfu(active_params(cfg), fused)},
              "ratio": round(fused / plain, 2) if plain else None, "peak_memory": gpu.peak(),
              "not_available": [n for n, ok in (("liger_kernel", liger), ("flash_attn", fused_attn != "sdpa"))
                                if not ok]}
    del lora, base
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/gpu-smoke", help="work folder; gpu_smoke.json goes here")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes on the CPU (for the test suite)")
    parser.add_argument("--phases", default="sft,dpo,moe,generate,kernels")
    parser.add_argument("--sft-data", nargs="+", default=["data/sft"], help="SFT files or folders")
    parser.add_argument("--dpo-data", nargs="+", default=DPO_DATA, help="DPO files (curated, no mined pairs)")
    args = parser.parse_args(argv)
    work = Path(args.out).resolve()
    work.mkdir(parents=True, exist_ok=True)
    s = {**settings(args.tiny), "sft_data": args.sft_data, "dpo_data": args.dpo_data}
    gpu = Gpu()
    if not gpu.cuda and not args.tiny:
        print("no GPU: run with --tiny on a CPU", file=sys.stderr)
        return 2
    device = "cuda" if gpu.cuda else "cpu"
    started = time.time()
    report: dict = {"device": gpu.name, "gpu_memory_gib": gpu.total_gib, "tiny": args.tiny, "settings": s,
                    "peak_bf16_flops": gpu.peak_flops, "phases": {}}
    import torch
    import transformers

    report["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    t0 = time.time()
    dense, dense_cfg = build_model(DENSE, work / "model-dense", args.tiny, device)
    moe, moe_cfg = build_model(MOE, work / "model-moe", args.tiny, device)
    report["build_models_s"] = round(time.time() - t0, 1)
    phases = args.phases.split(",")
    steps = [("sft", lambda: phase_sft(work, dense, dense_cfg, s, args.tiny, gpu)),
             ("dpo", lambda: phase_dpo(work, dense, dense_cfg, s, args.tiny, gpu)),
             ("moe", lambda: phase_moe(work, moe, moe_cfg, s, args.tiny, gpu)),
             ("generate", lambda: phase_generate(work, dense, s, args.tiny, gpu)),
             ("kernels", lambda: phase_kernels(dense, dense_cfg, s, args.tiny, gpu))]
    status = 0
    for name, fn in steps:
        if name not in phases:
            continue
        t0 = time.time()
        try:
            report["phases"][name] = {**fn(), "phase_s": round(time.time() - t0, 1)}
        except Exception as err:   # keep going: one JSON with every phase that worked and why one failed
            report["phases"][name] = {"error": f"{type(err).__name__}: {err}", "phase_s": round(time.time() - t0, 1)}
            status = 1
        (work / "gpu_smoke.json").write_text(json.dumps(report, indent=2))
        print(f"{name}: {json.dumps(report['phases'][name])[:400]}", flush=True)
    report["wall_s"] = round(time.time() - started, 1)
    (work / "gpu_smoke.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {work / 'gpu_smoke.json'} ({report['wall_s']} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
