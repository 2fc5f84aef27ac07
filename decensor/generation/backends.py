"""Generation backends for evaluation: transformers (default, CPU and GPU) and vLLM (GPU clusters).

Both yield ``[(index, answer), ...]`` per batch so the caller caches as it goes; both take the same
:class:`~decensor.generation.GenerationSettings`, so cached answers and results look the same.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence

from decensor.generation import GenerationSettings, chat_prompt, iter_generate
from decensor.models.loading import ModelArguments, load_model_and_tokenizer, load_tokenizer, resolve_model_path


class BackendUnavailable(RuntimeError):
    pass


class TransformersBackend:
    name = "transformers"

    def __init__(self, model_args: ModelArguments, adapter: str | None = None):
        self.model, self.tokenizer = load_model_and_tokenizer(model_args)
        if adapter:
            from peft import PeftModel

            # folded into the weights for generation: same model, no per-layer adapter overhead
            self.model = PeftModel.from_pretrained(self.model, adapter).merge_and_unload()
        self.model.eval()

    def iter_generate(self, prompts: Sequence[str], settings: GenerationSettings,
                      progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        yield from iter_generate(self.model, self.tokenizer, prompts, settings, progress)


class VLLMBackend:
    """vLLM with the LoRA adapter applied per request (``enable_lora``). GPU only."""

    name = "vllm"

    def __init__(self, model_args: ModelArguments, adapter: str | None = None):
        if importlib.util.find_spec("vllm") is None:
            raise BackendUnavailable("the vLLM backend needs `pip install vllm` on a GPU machine; "
                                     "use --backend transformers here")
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        path = resolve_model_path(model_args.model_name_or_path)
        self.tokenizer = load_tokenizer(model_args)
        self.llm = LLM(model=path, revision=model_args.model_revision, trust_remote_code=model_args.trust_remote_code,
                       dtype=model_args.dtype if model_args.dtype not in (None, "auto") else "auto",
                       enable_lora=adapter is not None, max_lora_rank=64)
        self.lora = LoRARequest("adapter", 1, adapter) if adapter else None

    def iter_generate(self, prompts: Sequence[str], settings: GenerationSettings,
                      progress: bool = True) -> Iterator[list[tuple[int, str]]]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=settings.max_new_tokens, seed=settings.seed,
                                temperature=settings.temperature if settings.do_sample else 0.0,
                                top_p=settings.top_p if settings.do_sample else 1.0)
        texts = [chat_prompt(self.tokenizer, p, settings) for p in prompts]
        step = max(settings.batch_size, 64)
        for start in range(0, len(texts), step):
            outs = self.llm.generate(texts[start:start + step], params, lora_request=self.lora, use_tqdm=progress)
            yield [(start + i, o.outputs[0].text.strip()) for i, o in enumerate(outs)]


BACKENDS = {"transformers": TransformersBackend, "vllm": VLLMBackend}


def make_backend(name: str, model_args: ModelArguments, adapter: str | None = None):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {sorted(BACKENDS)}")
    return BACKENDS[name](model_args, adapter)
