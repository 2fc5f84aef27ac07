"""Generation backends: transformers (CPU and GPU), vLLM (GPU clusters) and openai (any OpenAI-compatible
endpoint: a hosted chatbot, a vLLM or ``transformers serve`` server).

All three yield ``[(index, answer), ...]`` as answers finish, so the caller caches as it goes, and take
the same :class:`~decensor.generation.batched.GenerationSettings`, so cached answers and results look
the same. What each backend hands to its library is built by a pure function
(:func:`transformers_placement`, :func:`vllm_engine_kwargs`, :func:`vllm_sampling_kwargs`,
:func:`openai_request`), tested on machines without a GPU or vLLM.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from decensor.generation.batched import GenerationSettings, Messages, chat_token_ids, iter_generate, to_messages
from decensor.generation.spec import ModelSpec

logger = logging.getLogger(__name__)

# vLLM allocates LoRA slots of these ranks only (vllm.config.LoRAConfig.max_lora_rank)
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


class BackendUnavailable(RuntimeError):
    pass


# --- transformers -----------------------------------------------------------------------------------

def transformers_placement(device_map: str | None, load_in_4bit: bool, cuda_available: bool) -> dict:
    """Where the transformers backend puts the model: ``device_map`` for ``from_pretrained`` ("auto"
    spreads it over the visible GPUs, then CPU), the device type the answers come from, and whether a
    LoRA adapter is merged into the weights (not into 4-bit weights: it stays a separate module)."""
    if load_in_4bit and not cuda_available:
        raise BackendUnavailable("--load-in-4bit (bitsandbytes) needs a CUDA GPU; leave it off on the CPU")
    if device_map is None:
        device_map = "auto" if cuda_available else "cpu"
    device = "cpu" if device_map == "cpu" or not cuda_available else "cuda"
    if load_in_4bit and device == "cpu":
        raise BackendUnavailable(f"--load-in-4bit needs the model on a GPU, not device_map={device_map!r}")
    return {"device_map": device_map, "device": device, "merge_adapter": not load_in_4bit}


class TransformersBackend:
    name = "transformers"

    def __init__(self, spec: ModelSpec):
        import torch

        from decensor.models.loading import load_model, load_tokenizer

        placement = transformers_placement(spec.device_map, spec.load_in_4bit, torch.cuda.is_available())
        margs = spec.model_arguments()
        self.model = load_model(margs, device_map=placement["device_map"])
        self.tokenizer = load_tokenizer(margs)
        if spec.adapter:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, spec.adapter)
            if placement["merge_adapter"]:  # folded into the weights: same model, no per-layer adapter overhead
                self.model = self.model.merge_and_unload()
        self.model.eval()
        logger.info("transformers backend: device_map=%s, first parameter on %s", placement["device_map"],
                    next(self.model.parameters()).device)

    def iter_generate(self, prompts: Sequence[str | Messages], settings: GenerationSettings,
                      progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        yield from iter_generate(self.model, self.tokenizer, prompts, settings, progress)


# --- vLLM -------------------------------------------------------------------------------------------

def adapter_lora_rank(adapter: str | Path) -> int:
    """The largest LoRA rank in the adapter's adapter_config.json (``r`` and any ``rank_pattern`` entry)."""
    path = Path(adapter) / "adapter_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing; is {adapter} a LoRA adapter folder?") from None
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    ranks = [config.get("r")] + list((config.get("rank_pattern") or {}).values())
    if not all(isinstance(r, int) and r > 0 for r in ranks):
        raise ValueError(f"{path}: field r (and rank_pattern values) must be positive integers, got {ranks}")
    return max(ranks)


def vllm_lora_slot(rank: int) -> int:
    """The smallest rank slot vLLM offers that holds an adapter of ``rank``."""
    for slot in VLLM_LORA_RANKS:
        if rank <= slot:
            return slot
    raise ValueError(f"LoRA rank {rank} is above vLLM's largest ({VLLM_LORA_RANKS[-1]}); merge the adapter first")


def vllm_engine_kwargs(spec: ModelSpec, model_path: str, lora_rank: int | None = None) -> dict:
    """Keyword arguments of ``vllm.LLM`` for ``spec`` (``model_path``: the resolved local folder or Hub id)."""
    kwargs = dict(model=model_path, tokenizer=model_path, revision=spec.revision, tokenizer_revision=spec.revision,
                  trust_remote_code=spec.trust_remote_code, dtype=spec.dtype or "auto",
                  tensor_parallel_size=spec.tensor_parallel_size,
                  gpu_memory_utilization=spec.gpu_memory_utilization)
    if spec.gguf_file:  # vLLM reads a GGUF by its file path, the tokenizer from the folder
        kwargs["model"] = str(Path(model_path) / spec.gguf_file)
    if spec.max_model_len:
        kwargs["max_model_len"] = spec.max_model_len
    if spec.load_in_4bit:
        kwargs["quantization"] = "bitsandbytes"
    if spec.adapter:
        if lora_rank is None:
            raise ValueError("an adapter needs its LoRA rank (adapter_lora_rank)")
        kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=vllm_lora_slot(lora_rank))
    return kwargs


def vllm_sampling_kwargs(settings: GenerationSettings) -> dict:
    """Keyword arguments of ``vllm.SamplingParams``: greedy is temperature 0, as in the other backends."""
    if settings.do_sample:
        return dict(max_tokens=settings.max_new_tokens, temperature=settings.temperature, top_p=settings.top_p,
                    seed=settings.seed)
    return dict(max_tokens=settings.max_new_tokens, temperature=0.0, top_p=1.0)


class VLLMBackend:
    """vLLM with the LoRA adapter applied per request (``enable_lora``); prompts go in as token ids."""

    name = "vllm"

    def __init__(self, spec: ModelSpec):
        if importlib.util.find_spec("vllm") is None:
            raise BackendUnavailable("the vLLM backend needs `pip install vllm` on a GPU machine; "
                                     "use --backend transformers here")
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        from decensor.models.loading import load_tokenizer, resolve_model_path

        rank = adapter_lora_rank(spec.adapter) if spec.adapter else None
        self.tokenizer = load_tokenizer(spec.model_arguments())
        self.llm = LLM(**vllm_engine_kwargs(spec, resolve_model_path(spec.model), rank))
        self.lora = LoRARequest("adapter", 1, str(spec.adapter)) if spec.adapter else None

    def iter_generate(self, prompts: Sequence[str | Messages], settings: GenerationSettings,
                      progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        from vllm import SamplingParams

        params = SamplingParams(**vllm_sampling_kwargs(settings))
        ids = [{"prompt_token_ids": chat_token_ids(self.tokenizer, p, settings)} for p in prompts]
        step = max(settings.batch_size, 64)
        for start in range(0, len(ids), step):
            outs = self.llm.generate(ids[start:start + step], params, lora_request=self.lora, use_tqdm=progress)
            yield [(start + i, o.outputs[0].text.strip()) for i, o in enumerate(outs)]


# --- OpenAI-compatible endpoints ----------------------------------------------------------------------

def openai_request(model: str, prompt: str | Messages, settings: GenerationSettings, index: int = 0) -> dict:
    """Keyword arguments of ``client.chat.completions.create`` for one prompt. Greedy is temperature 0;
    sampling seeds each prompt with ``seed + index``; the thinking switch goes to the chat template."""
    request = dict(model=model, messages=to_messages(prompt, settings.system_prompt),
                   max_tokens=settings.max_new_tokens)
    if settings.do_sample:
        request.update(temperature=settings.temperature, top_p=settings.top_p, seed=settings.seed + index)
    else:
        request.update(temperature=0.0)
    if settings.enable_thinking is not None:
        request["extra_body"] = {"chat_template_kwargs": {"enable_thinking": settings.enable_thinking}}
    return request


def answer_text(message) -> str:
    """The answer of a chat completion message; a separate reasoning field (vLLM's ``reasoning_content``)
    is put back in front as ``<think>...</think>``, the form the local backends return and judges split."""
    content = (message.content or "").strip()
    extra = getattr(message, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    return f"<think>{reasoning.strip()}</think>{content}" if isinstance(reasoning, str) and reasoning.strip() else content


class OpenAIBackend:
    """Chat completions with at most ``spec.concurrency`` requests in flight; the ``openai`` client retries
    each with exponential backoff (``spec.max_retries``). A request that still fails stops the run with
    the server's message; every answer that came back before is already cached."""

    name = "openai"

    def __init__(self, spec: ModelSpec):
        if importlib.util.find_spec("openai") is None:
            raise BackendUnavailable("the openai backend needs `pip install openai`")
        import openai

        self.spec = spec
        self.client = openai.OpenAI(base_url=spec.base_url, api_key=os.environ.get(spec.api_key_env) or "EMPTY",
                                    max_retries=spec.max_retries, timeout=spec.timeout)

    def _answer(self, prompt: str | Messages, settings: GenerationSettings, index: int) -> str:
        response = self.client.chat.completions.create(**openai_request(self.spec.model, prompt, settings, index))
        if not response.choices:
            raise RuntimeError(f"{self.spec.base_url}: a response without choices for prompt {index}")
        return answer_text(response.choices[0].message)

    def iter_generate(self, prompts: Sequence[str | Messages], settings: GenerationSettings,
                      progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(prompts), desc=f"asking {self.spec.model}", unit="answer", disable=not progress)
        pool = ThreadPoolExecutor(self.spec.concurrency, thread_name_prefix="openai")
        pending = {}
        queue = iter(enumerate(prompts))
        try:
            for i, p in queue:  # never more than `concurrency` submitted: a failure stops the run promptly
                pending[pool.submit(self._answer, p, settings, i)] = i
                if len(pending) >= self.spec.concurrency:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    answer = future.result()  # raises the client's error after its retries
                    bar.update(1)
                    yield [(i, answer)]
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(self._answer, nxt[1], settings, nxt[0])] = nxt[0]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()


BACKENDS = {"transformers": TransformersBackend, "vllm": VLLMBackend, "openai": OpenAIBackend}


def make_backend(spec: ModelSpec):
    return BACKENDS[spec.backend](spec)  # ModelSpec validated the name


def device_type(spec: ModelSpec) -> str:
    """The kind of device the answers will come from (part of the cache key), known before loading."""
    if spec.backend == "openai":
        return "remote"
    if spec.backend == "vllm":
        return "cuda"
    import torch

    return transformers_placement(spec.device_map, spec.load_in_4bit, torch.cuda.is_available())["device"]
