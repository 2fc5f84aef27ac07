"""Our SFT step time vs a plain TRL SFTTrainer script on the same tiny model and data, and padding per batch.

    python bench/train_overhead.py [--family qwen2] [--steps 30]

Prints the step-time ratio ours / plain TRL (target <= 1.05; CPU time is the steadier number on a shared
machine) and the fraction of padding tokens per batch for our SFT (packing, padding-free: target < 10 %),
plain TRL without packing, and our DPO batches (grouped by length) against DPO in random order.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.wall, self.cpu, self.padding = [], [], []

        def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
            self.dataloader = train_dataloader

        def on_step_begin(self, *a, **k):
            self._w, self._c = time.perf_counter(), time.process_time()

        def on_step_end(self, *a, **k):
            self.wall.append(time.perf_counter() - self._w)
            self.cpu.append(time.process_time() - self._c)

    return StepTimer()


def padding_fraction(dataloader, pad_id: int, batches: int = 20) -> float:
    """Mean over batches of padded positions / all positions (attention_mask == 0, or pad ids when padding-free)."""
    fractions = []
    for i, batch in enumerate(dataloader):
        if i >= batches:
            break
        if "attention_mask" in batch:
            mask = batch["attention_mask"]
            fractions.append(1.0 - mask.float().mean().item())
        else:
            ids = batch["input_ids"]
            fractions.append((ids == pad_id).float().mean().item())
    return statistics.mean(fractions) if fractions else float("nan")


def sft_config(out: str, steps: int, max_length: int = 256, **extra):
    from trl import SFTConfig

    return SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=4, learning_rate=1e-3,
                     max_length=max_length, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                     gradient_checkpointing=False, seed=0, disable_tqdm=True, **extra)


def run_plain_trl(model_dir: str, data_dir: str, out: str, steps: int, packing: bool, max_length: int = 256):
    """What a user would write with TRL alone: messages in, SFTTrainer + LoraConfig, nothing else."""
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    files = sorted(str(p) for p in Path(data_dir).glob("*.jsonl"))
    ds = load_dataset("json", data_files=files, split="train").select_columns(["messages"]).shuffle(seed=42)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    timer = step_timer()
    trainer = SFTTrainer(model=model, args=sft_config(out, steps, max_length, packing=packing), train_dataset=ds,
                         processing_class=tok, callbacks=[timer],
                         peft_config=LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                                                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                                "up_proj", "down_proj"]))
    trainer.train()
    return timer, padding_fraction(trainer.get_train_dataloader(), tok.pad_token_id)


def run_ours(recipe_path: Path, overrides: list[str]):
    import decensor.train.run as run
    from decensor.train import run_recipe

    timer = step_timer()
    captured = {}
    original = run._callbacks
    original_train = run.train

    def callbacks(out):
        return original(out) + [timer]

    def train(recipe, trainer_cls):
        class Capturing(trainer_cls):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                captured["trainer"] = self

        return original_train(recipe, Capturing)

    run._callbacks = callbacks
    try:
        from unittest import mock

        with mock.patch("decensor.train.run.train", train):
            out = run_recipe(recipe_path, overrides, overwrite=True)
    finally:
        run._callbacks = original
    trainer = captured["trainer"]
    pad = padding_fraction(trainer.get_train_dataloader(), trainer.processing_class.pad_token_id)
    return timer, pad, out


def median_after_warmup(xs, warmup=3):
    xs = xs[warmup:] or xs
    return statistics.median(xs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="qwen2")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared machine, CPU time of one thread is the steady "
                             "measure; OpenMP spin-waits under contention make multi-thread timings noisy)")
    parser.add_argument("--data", default=None, help="folder with SFT *.jsonl (default data/sft, else synthetic)")
    parser.add_argument("--dpo-data", default=None, help="folder with DPO *.jsonl (default data/dpo, else synthetic)")
    args = parser.parse_args()

    import torch
    import yaml

    from decensor.paths import DATA_DIR

    torch.set_num_threads(args.threads)
    from decensor.testing import build_tiny_model

    tmp = Path(tempfile.mkdtemp(prefix="decensor-bench-"))
    model_dir = str(build_tiny_model(args.family, tmp / "model"))
    sft_dir = args.data or (str(DATA_DIR / "sft") if list((DATA_DIR / "sft").glob("*.jsonl")) else None)
    dpo_dir = args.dpo_data or (str(DATA_DIR / "dpo") if list((DATA_DIR / "dpo").glob("*.jsonl")) else None)
    if sft_dir is None or dpo_dir is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from train_helpers import write_data

        s, d = write_data(tmp / "data", rows=64)
        sft_dir, dpo_dir = sft_dir or str(s), dpo_dir or str(d)

    recipe = {"stage": "sft", "model_name_or_path": model_dir, "family": args.family, "dtype": "float32",
              "use_peft": True, "lora_r": 8, "lora_alpha": 16, "dataset": [sft_dir], "max_steps": args.steps,
              "per_device_train_batch_size": 4, "learning_rate": 1e-3, "max_length": 256, "packing": True,
              "logging_steps": 1, "save_strategy": "no", "report_to": "none", "use_cpu": True,
              "gradient_checkpointing": False, "seed": 0, "disable_tqdm": True,
              "output_dir": str(tmp / "ours")}
    recipe_path = tmp / "sft.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe))

    # Alternate plain / ours / plain / ours so drift on a shared machine hits both alike.
    plain_wall, plain_cpu, ours_wall, ours_cpu = [], [], [], []
    for rnd in range(args.rounds):
        t, plain_pad = run_plain_trl(model_dir, sft_dir, str(tmp / f"plain{rnd}"), args.steps, packing=True)
        plain_wall.append(median_after_warmup(t.wall))
        plain_cpu.append(median_after_warmup(t.cpu))
        t, ours_pad, _ = run_ours(recipe_path, [])
        ours_wall.append(median_after_warmup(t.wall))
        ours_cpu.append(median_after_warmup(t.cpu))
    # Without packing and with room for whole rows (1024 tokens), plain TRL pads every batch to its longest row.
    _, plain_nopack_pad = run_plain_trl(model_dir, sft_dir, str(tmp / "plain-nopack"), 2, packing=False,
                                        max_length=1024)

    dpo_recipe = dict(recipe, stage="dpo", dataset=[dpo_dir], max_steps=2, output_dir=str(tmp / "dpo"))
    dpo_recipe.pop("packing")
    dpo_path = tmp / "dpo.yaml"
    dpo_path.write_text(yaml.safe_dump(dpo_recipe))
    _, dpo_pad, _ = run_ours(dpo_path, [])
    _, dpo_random_pad, _ = run_ours(dpo_path, ["group_by_length=false", "output_dir=" + str(tmp / "dpo-r")])

    # Per-round ratios (each round runs both back to back), then the median over rounds.
    ratio_wall = statistics.median(o / p for o, p in zip(ours_wall, plain_wall))
    ratio_cpu = statistics.median(o / p for o, p in zip(ours_cpu, plain_cpu))
    result = {
        "model": f"tiny {args.family}", "data": sft_dir, "steps_per_run": args.steps,
        "threads": args.threads, "rounds": args.rounds,
        "plain_trl_step_s": [round(x, 4) for x in plain_wall], "ours_step_s": [round(x, 4) for x in ours_wall],
        "plain_trl_step_cpu_s": [round(x, 4) for x in plain_cpu], "ours_step_cpu_s": [round(x, 4) for x in ours_cpu],
        "ratio_wall": round(ratio_wall, 3), "ratio_cpu": round(ratio_cpu, 3),
        "padding_ours_sft_packed": round(ours_pad, 4),
        "padding_plain_trl_sft_packed": round(plain_pad, 4),
        "padding_plain_trl_sft_unpacked": round(plain_nopack_pad, 4),
        "padding_ours_dpo_grouped": round(dpo_pad, 4),
        "padding_dpo_random_order": round(dpo_random_pad, 4),
    }
    print(json.dumps(result, indent=2))
    print(f"step time ours / plain TRL: {ratio_wall:.3f} wall, {ratio_cpu:.3f} CPU "
          f"(target <= 1.05 on CPU time: {'OK' if ratio_cpu <= 1.05 else 'MISSED'})")
    print(f"padding per SFT batch (ours, packed): {ours_pad:.1%} (target < 10%: {'OK' if ours_pad < 0.10 else 'MISSED'}); "
          f"DPO grouped by length {dpo_pad:.1%} vs random order {dpo_random_pad:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
