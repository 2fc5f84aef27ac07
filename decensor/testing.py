"""Tiny random-weight models of each family, built in seconds, for tests and benchmarks.

Each model gets a real (small) byte-level BPE tokenizer trained on the repository's own text, with
the ChatML chat template of the Qwen family (plus ``<think>`` tokens), so chat formatting, padding,
TRL trainers and peft all run exactly as on a real checkpoint, only smaller. :func:`serve` runs such a
model behind a minimal OpenAI-compatible HTTP server on loopback (the LLM judge and openai backend tests).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import torch

from decensor.paths import DATA_DIR

CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- set loop_messages = messages[1:] %}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- set loop_messages = messages %}"
    "{%- endif %}"
    "{%- for message in loop_messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# The families the issue asks every trainer and loader to be tested on.
TINY_FAMILIES = ("qwen2", "qwen3-moe", "deepseek-v3")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

TINY_CONFIGS = {
    "qwen2": dict(model_type="qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                  tie_word_embeddings=False),
    "qwen3": dict(model_type="qwen3", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024),
    "qwen3-moe": dict(model_type="qwen3_moe", hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                      num_experts=4, num_experts_per_tok=2, max_position_embeddings=1024),
    "deepseek-v3": dict(model_type="deepseek_v3", hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
                        num_hidden_layers=2, first_k_dense_replace=1, num_attention_heads=4,
                        num_key_value_heads=4, n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1,
                        n_group=1, topk_group=1, q_lora_rank=32, kv_lora_rank=16, qk_rope_head_dim=8,
                        qk_nope_head_dim=8, v_head_dim=16, max_position_embeddings=1024),
}


def _corpus(limit: int = 4000) -> list[str]:
    """Text to train the tiny tokenizer on: the shipped SFT data when present, else a fixed sample."""
    texts: list[str] = []
    for path in sorted((DATA_DIR / "sft").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                texts.extend(m["content"] for m in json.loads(line)["messages"])
            except (ValueError, KeyError, TypeError):
                continue
            if len(texts) >= limit:
                return texts
    return texts + ["The quick brown fox jumps over the lazy dog.", "台湾是一个国家吗？天安门广场。",
                    "What happened in 1989? I'm sorry, but I can't discuss that."] * 10


def build_tiny_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None)
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(family: str, out_dir: str | Path, seed: int = 0, vocab_size: int = 512) -> Path:
    """Save a tiny random-weight model of ``family`` with tokenizer and chat template to ``out_dir``."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if family not in TINY_CONFIGS:
        raise KeyError(f"no tiny config for {family!r}; have {sorted(TINY_CONFIGS)}")
    out_dir = Path(out_dir)
    tokenizer = build_tiny_tokenizer(vocab_size)
    spec = dict(TINY_CONFIGS[family])
    config = AutoConfig.for_model(spec.pop("model_type"), vocab_size=len(tokenizer),
                                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                                  bos_token_id=None, **spec)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_adapter(base_dir: str | Path, out_dir: str | Path, seed: int = 1) -> Path:
    """A real LoRA adapter (r=4 on q/v) with non-zero weights for the model in ``base_dir``, saved with its
    tokenizer, so a "tuned" model answers differently from the base in tests."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out_dir)
    return Path(out_dir)


# Kimi-K2 ships DeepSeek-V3 weights under its own model_type and remote modelling code; this is its shape
# in miniature: first layer dense, all experts in one group, multi-head latent attention.
KIMI_SHAPED = dict(n_group=1, topk_group=1, first_k_dense_replace=1, num_hidden_layers=3, n_routed_experts=6,
                   num_experts_per_tok=2, routed_scaling_factor=2.827, scoring_func="sigmoid", topk_method="noaux_tc")


def write_marker_code(folder: str | Path, marker: str | Path, auto_map: dict[str, str] | None = None) -> Path:
    """Give a model folder Python files that create ``marker`` when imported, and an ``auto_map`` naming
    them, so a test can prove whether transformers ran the folder's code."""
    folder = Path(folder)
    body = f"from pathlib import Path\nPath({str(marker)!r}).write_text('remote code ran')\n"
    (folder / "configuration_marker.py").write_text(
        body + "from transformers import DeepseekV3Config\n\nclass MarkerConfig(DeepseekV3Config):\n"
               "    pass\n")
    (folder / "modeling_marker.py").write_text(
        body + "from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3ForCausalLM\n\n"
               "from .configuration_marker import MarkerConfig\n\n"
               "class MarkerForCausalLM(DeepseekV3ForCausalLM):\n    config_class = MarkerConfig\n")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["auto_map"] = auto_map or {"AutoConfig": "configuration_marker.MarkerConfig",
                                      "AutoModelForCausalLM": "modeling_marker.MarkerForCausalLM"}
    config_path.write_text(json.dumps(config, indent=2))
    return folder


def build_kimi_shaped_model(out_dir: str | Path, marker: str | Path, seed: int = 0) -> Path:
    """A tiny checkpoint laid out like Kimi-K2's: ``model_type: kimi_k2``, DeepseekV3 weights, and remote
    code (which writes ``marker`` if it ever runs)."""
    from transformers import AutoModelForCausalLM, DeepseekV3Config

    out_dir = Path(out_dir)
    tokenizer = build_tiny_tokenizer()
    spec = {k: v for k, v in TINY_CONFIGS["deepseek-v3"].items() if k != "model_type"}
    spec.update(KIMI_SHAPED)
    config = DeepseekV3Config(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id, bos_token_id=None, **spec)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config, dtype=torch.float32).save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    raw = json.loads((out_dir / "config.json").read_text())
    raw["model_type"] = "kimi_k2"
    (out_dir / "config.json").write_text(json.dumps(raw, indent=2))
    return write_marker_code(out_dir, marker)


# --- a minimal OpenAI-compatible server on loopback, for the LLM judge and the openai backend tests ------
# Run as ``python -m decensor.testing --model DIR --port N [--delay S] [--fail-first N] [--request-log FILE]``.

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc, base_url: str, timeout: float) -> None:
    """Wait until ``GET {base_url}/models`` answers 200; raise if the server process exits or times out."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the server at {base_url} was not ready within {timeout:.0f}s")


def stop_process(proc) -> None:
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def serve_command(model_dir: str | Path, port: int, *extra: str) -> list[str]:
    """The command line that serves ``model_dir`` on 127.0.0.1:``port`` in a subprocess (see :func:`serve`)."""
    import sys

    return [sys.executable, "-m", "decensor.testing", "--model", str(model_dir), "--port", str(port), *extra]


@contextmanager
def running_server(cmd: list[str], port: int, log_path: str | Path, timeout: float = 120):
    """Start ``cmd`` (a server on 127.0.0.1:``port``), yield its ``/v1`` base URL once it answers, stop it
    after; if it never gets ready, raise with the tail of its log."""
    import subprocess

    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=serve_env())
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            wait_ready(proc, base_url, timeout)
        except (RuntimeError, TimeoutError) as e:
            raise RuntimeError(f"{e}; server log:\n{Path(log_path).read_text(errors='replace')[-3000:]}") from None
        yield base_url
    finally:
        stop_process(proc)


def wait_for_answers(answers_dir: str | Path, n: int, proc=None, timeout: float = 180) -> Path | None:
    """The answer-cache file in ``answers_dir`` once it holds ``n`` lines (None on timeout, or when ``proc``
    exits first): the moment a kill-and-resume test kills its run."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        files = sorted(Path(answers_dir).glob("*.jsonl")) if Path(answers_dir).exists() else []
        if files and len(files[0].read_text(encoding="utf-8").splitlines()) >= n:
            return files[0]
        time.sleep(0.05)
    return None


def serve_env() -> dict:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"}


def serve(model_dir: str, port: int, host: str = "127.0.0.1", json_mode: bool = False, delay: float = 0.0,
          fail_first: int = 0, request_log: str | None = None) -> None:
    """Serve ``model_dir`` at ``http://host:port/v1`` (``/models``, ``/chat/completions``, no streaming) on CPU,
    greedy at temperature 0, with ``transformers`` ``generate``.

    ``response_format`` is refused with HTTP 400 unless ``json_mode`` (then it is accepted and ignored), so
    clients' fallback path is exercised. ``delay`` seconds are added to every completion, the first
    ``fail_first`` completions answer HTTP 503 (a client must retry), and each completion request's
    messages are appended to ``request_log`` (one JSON line) as it arrives. ``GET /v1/stats`` reports the
    most completion requests that were ever open at once (``max_open``), to check a client's concurrency.
    """
    import os
    import sys
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    lock = threading.Lock()
    failures = [fail_first]
    stats = {"open": 0, "max_open": 0, "requests": 0}
    stats_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, obj: dict) -> None:
            self._close()  # before the reply leaves: a client may send its next request as soon as it arrives
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_dir, "object": "model"}]})
            elif self.path.rstrip("/") == "/v1/stats":
                self._send(200, stats)
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):  # noqa: N802
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            with stats_lock:
                stats["open"] += 1
                stats["requests"] += 1
                stats["max_open"] = max(stats["max_open"], stats["open"])
            self._is_open = True
            try:
                self._complete()
            finally:
                self._close()

        def _close(self) -> None:
            if getattr(self, "_is_open", False):
                self._is_open = False
                with stats_lock:
                    stats["open"] -= 1

        def _complete(self) -> None:
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                messages = req["messages"]
            except (ValueError, KeyError, TypeError) as e:
                return self._send(400, {"error": {"message": f"bad request: {e}"}})
            with lock:
                if request_log:
                    with open(request_log, "a", encoding="utf-8") as log:
                        log.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
                if failures[0] > 0:
                    failures[0] -= 1
                    return self._send(503, {"error": {"message": "overloaded, try again"}})
            if req.get("response_format") and not json_mode:
                return self._send(400, {"error": {"message": "response_format is not supported"}})
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)
            temperature = float(req.get("temperature") or 0)
            kwargs = dict(max_new_tokens=int(req.get("max_tokens") or 256), do_sample=temperature > 0,
                          pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
            if temperature > 0:
                kwargs["temperature"] = temperature
            time.sleep(delay)  # outside the lock, so concurrent requests overlap as on a real server
            start = time.perf_counter()
            with lock, torch.no_grad():
                out = model.generate(**ids, **kwargs)
            new = out[0, ids["input_ids"].shape[1]:]
            text = tokenizer.decode(new, skip_special_tokens=True)
            finish = "length" if len(new) >= kwargs["max_new_tokens"] else "stop"
            print(f"{len(new)} tokens in {time.perf_counter() - start:.2f}s", file=sys.stderr, flush=True)
            self._send(200, {
                "id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                "model": req.get("model", model_dir),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": int(ids["input_ids"].shape[1]), "completion_tokens": len(new),
                          "total_tokens": int(ids["input_ids"].shape[1]) + len(new)},
            })

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    print(f"serving {model_dir} at http://{host}:{port}/v1", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="A minimal OpenAI-compatible server for tests (CPU, loopback).")
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--json-mode", action="store_true", help="accept (and ignore) response_format")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every completion")
    parser.add_argument("--fail-first", type=int, default=0, help="answer the first N completions with HTTP 503")
    parser.add_argument("--request-log", help="append each completion request's messages to this JSONL file")
    args = parser.parse_args()
    serve(str(Path(args.model)), args.port, args.host, args.json_mode, args.delay, args.fail_first, args.request_log)
