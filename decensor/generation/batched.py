"""Batched chat generation with transformers: left padding, the model's own chat template, greedy or sampled.

The transformers backend (:mod:`decensor.generation.backends`) runs this. Prompts are sorted by length so a batch holds prompts of similar
size (less padding), generated in batches, and returned in the caller's order. Under greedy decoding
the answers equal one-at-a-time generation token for token (tested on the real model).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

Messages = list[dict[str, str]]


@dataclass
class GenerationSettings:
    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0
    batch_size: int = 8
    system_prompt: str | None = None
    # Qwen3 hybrid thinking: True/False is passed to the chat template; None leaves the template default.
    enable_thinking: bool | None = None

    def cache_key(self) -> dict:
        """The settings that change an answer (batch size does not)."""
        key = asdict(self)
        key.pop("batch_size")
        if not self.do_sample:
            for name in ("temperature", "top_p", "seed"):
                key.pop(name)
        return key


def to_messages(prompt: str | Messages, system_prompt: str | None = None) -> Messages:
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system_prompt and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def chat_prompt(tokenizer, prompt: str | Messages, settings: GenerationSettings) -> str:
    kwargs = {}
    if settings.enable_thinking is not None:
        kwargs["enable_thinking"] = settings.enable_thinking
    return tokenizer.apply_chat_template(to_messages(prompt, settings.system_prompt), tokenize=False,
                                         add_generation_prompt=True, **kwargs)


def chat_token_ids(tokenizer, prompt: str | Messages, settings: GenerationSettings) -> list[int]:
    """The prompt's token ids, rendered by the chat template and tokenized WITHOUT adding special tokens:
    templates that write the BOS themselves (DeepSeek's) would otherwise start with two BOS tokens. This is
    what every backend feeds the model (vLLM gets these ids, not text)."""
    return tokenizer(chat_prompt(tokenizer, prompt, settings), add_special_tokens=False).input_ids


def stop_token_ids(model, tokenizer) -> list[int]:
    ids: list[int] = []
    for source in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        for i in ([source] if isinstance(source, int) else source or []):
            if i not in ids:
                ids.append(i)
    return ids


def iter_generate(model, tokenizer, prompts: Sequence[str | Messages], settings: GenerationSettings,
                  progress: bool = True, desc: str = "generating") -> Iterator[list[tuple[int, str]]]:
    """Yield ``[(index, answer), ...]`` one batch at a time, so callers can cache as they go."""
    import torch  # here, not at import: `decensor --help` and the CLI's parsers stay fast
    from tqdm.auto import tqdm

    texts = [chat_prompt(tokenizer, p, settings) for p in prompts]
    lengths = [len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]  # as chat_token_ids
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    eos = stop_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    device = next(model.parameters()).device
    bar = tqdm(total=len(texts), desc=desc, unit="answer", disable=not progress)
    try:
        for start in range(0, len(order), settings.batch_size):
            idx = order[start:start + settings.batch_size]
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device)
            gen_kwargs = dict(max_new_tokens=settings.max_new_tokens, do_sample=settings.do_sample,
                              eos_token_id=eos, pad_token_id=pad_id)
            if settings.do_sample:
                torch.manual_seed(settings.seed + start)
                gen_kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
            else:  # silence warnings about sampling settings a checkpoint's generation_config may carry
                gen_kwargs.update(temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                out = model.generate(**enc, **gen_kwargs)
            new_tokens = out[:, enc.input_ids.shape[1]:]
            answers = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            bar.update(len(idx))
            yield [(i, a.strip()) for i, a in zip(idx, answers)]
    finally:
        tokenizer.padding_side = padding_side
        bar.close()


def generate(model, tokenizer, prompts: Sequence[str | Messages], settings: GenerationSettings | None = None,
             progress: bool = True) -> list[str]:
    """Answers to ``prompts`` in order."""
    settings = settings or GenerationSettings()
    answers: list[str | None] = [None] * len(prompts)
    for batch in iter_generate(model, tokenizer, prompts, settings, progress):
        for i, answer in batch:
            answers[i] = answer
    return answers  # type: ignore[return-value]
