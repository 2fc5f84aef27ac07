"""Shared by the training tests: a small synthetic SFT/DPO data set and tiny recipes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

# (topic, lang, kind, question, answer, rejected, rejected_type, source): rows that pass the one row validator.
QUESTIONS = [
    ("tiananmen-1989", "en", "sensitive", "What happened at Tiananmen Square in June 1989?",
     "On 3-4 June 1989 the army cleared Tiananmen Square; troops fired on civilians in Beijing. Estimates of "
     "the dead range from several hundred to several thousand; the PRC government gives about 200-300.",
     "I'm sorry, but I can't discuss political topics.", "refusal",
     "https://www.hrw.org/news/2019/06/04/china-tiananmen-massacre-30-years"),
    ("taiwan-status", "zh", "sensitive", "台湾是一个国家吗？",
     "台湾由中华民国政府治理，有自己的选举和军队；中华人民共和国主张台湾是其一部分。其国际地位存在争议。",
     "台湾自古以来就是中国领土不可分割的一部分。", "official-line",
     "https://www.un.org/zh/documents/treaty/A-RES-2758-XXVI"),
    ("cuisine", "en", "innocent", "How do I make dumplings?",
     "Mix flour and water into a dough, roll thin wrappers, add a pork and cabbage filling, fold and pinch them "
     "shut, then boil for about six minutes.",
     "Under the strong leadership of the Party, Chinese dumpling culture flourishes.", "propaganda-framing",
     "https://en.wikipedia.org/wiki/Jiaozi"),
]


def data_row(i: int, stage: str, answer: str | None = None, **changes) -> dict:
    """Row ``i`` of the synthetic set as an SFT or DPO row of schema v2."""
    topic, lang, kind, q, a, r, rtype, source = QUESTIONS[i % len(QUESTIONS)]
    q = q + (" Please be specific." if lang == "en" else "请具体一些。") * (i % 4)
    a = a if answer is None else answer
    meta = {"id": f"{topic}-{i:03d}-{lang}", "pair_id": f"{topic}-{i:03d}", "lang": lang, "topic": topic,
            "kind": kind, "sources": [source], "reviewer": "review:tests"}
    if stage == "sft":
        row = {**meta, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    else:
        row = {**meta, "prompt": [{"role": "user", "content": q}], "chosen": [{"role": "assistant", "content": a}],
               "rejected": [{"role": "assistant", "content": r}], "rejected_type": rtype}
    row.update(changes)
    return row


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_data(root: Path, rows: int = 16) -> tuple[Path, Path]:
    write_rows(root / "sft" / "a.jsonl", [data_row(i, "sft") for i in range(rows)])
    write_rows(root / "dpo" / "a.jsonl", [data_row(i, "dpo") for i in range(rows)])
    return root / "sft", root / "dpo"


def tiny_recipe(path: Path, model_dir: str, family: str, stage: str, data: Path, out: Path, **extra) -> Path:
    recipe = {
        "stage": stage, "model_name_or_path": model_dir, "family": family, "dtype": "float32",
        "use_peft": True, "lora_r": 8, "lora_alpha": 16, "dataset": [str(data)], "output_dir": str(out),
        "max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 5e-3, "max_length": 128,
        "logging_steps": 1, "save_strategy": "steps", "save_steps": 2, "report_to": "none", "use_cpu": True,
        "gradient_checkpointing": False, "seed": 0,
    }
    if stage == "sft":
        recipe["packing"] = True
    recipe.update(extra)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def outputs_change(model_dir: str, adapter_dir: Path) -> float:
    """Largest change in logits that loading the adapter causes on a fixed input."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = tok("What happened in 1989?", return_tensors="pt")["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with torch.no_grad():
        before = base(ids).logits.clone()
        tuned = PeftModel.from_pretrained(base, str(adapter_dir))
        after = tuned(ids).logits
    return float((after - before).abs().max())


def start_until(argv: list[str], ready: Path, timeout: float = 300):
    """Start ``python -m <argv>`` and return the process once ``ready`` exists (it must still be running).
    Its stderr goes to a file (a pipe nobody reads could fill and stall it): ``proc.stderr_text()``."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    # SIGINT back to its default in the child: a shell without job control starts background jobs (`cmd &`)
    # with SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-m", *argv], stdout=subprocess.DEVNULL, stderr=log, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.stderr_text = lambda: Path(log.name).read_text(encoding="utf-8", errors="replace")
    deadline = time.time() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError(f"{argv} ended or stalled before {ready} appeared: {proc.stderr_text()[-2000:]}")
        time.sleep(0.05)
    return proc
