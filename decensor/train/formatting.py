"""Chat formatting per family: data rows -> TRL's conversational prompt/completion examples.

SFT rows (``messages``) become ``prompt`` (every turn before the last assistant turn) and ``completion``
(the last assistant turn), so TRL trains on the completion only, whatever the chat template: Qwen's
templates have no ``{% generation %}`` markers, so ``assistant_only_loss`` would not work across families.
DPO rows already are prompt/chosen/rejected.

Reasoning families (registry ``reasoning`` != none) get their assistant turns written in the recipe's
``reasoning_format``:

- ``empty-think``: ``<think>\\n\\n</think>\\n\\n`` then the answer (Qwen3's own non-thinking form;
  ``enable_thinking=False`` is passed to the template, which then puts the empty block in the prompt);
- ``brief-think``: a short honest reasoning in the think block, then the answer (``enable_thinking=True``);
- ``none``: the answer as is (non-reasoning families).

Templates that rewrite the final turn (DeepSeek-R1's drops everything before ``</think>`` and its
generation prompt already opens ``<think>``) would break the prompt-is-a-prefix property TRL relies on;
for those the examples are rendered to text with the template once here, and the completion is exactly
what the model must generate after the generation prompt.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

EMPTY_THINK = "<think>\n\n</think>\n\n"
BRIEF_THINK_TEXT = ("The user asks about a historical/political topic. I will give a factual, balanced answer "
                    "that names sources and what is disputed.")
BRIEF_THINK_BY_KIND = {
    "innocent": "The user asks an everyday question. I will answer it directly and accurately, without "
                "political framing.",
    "harmful-refusal": "The user asks for something that could cause serious harm. I will decline briefly, "
                       "say why, and offer a safe alternative.",
}


def think_prefix(reasoning_format: str, kind: str | None = None, brief_text: str | None = None) -> str:
    if reasoning_format in ("none", "auto", None):
        return ""
    if reasoning_format == "empty-think":
        return EMPTY_THINK
    if reasoning_format == "brief-think":
        text = brief_text or BRIEF_THINK_BY_KIND.get(kind or "", BRIEF_THINK_TEXT)
        return f"<think>\n{text}\n</think>\n\n"
    raise ValueError(f"unknown reasoning_format {reasoning_format!r}")


def _with_prefix(message: dict, prefix: str) -> dict:
    content = message["content"]
    if prefix and not content.lstrip().startswith("<think>"):
        content = prefix + content
    return {"role": message["role"], "content": content}


def chat_template_kwargs(family_reasoning: str, reasoning_format: str) -> dict:
    """Qwen3 hybrid thinking: the template's enable_thinking must agree with the think block we train."""
    if family_reasoning == "hybrid-think":
        return {"enable_thinking": reasoning_format == "brief-think"}
    return {}


class ChatFormatter:
    """Builds trainer-ready examples for one tokenizer / family / reasoning format."""

    def __init__(self, tokenizer, family_reasoning: str = "none", reasoning_format: str = "none",
                 brief_text: str | None = None):
        self.tokenizer = tokenizer
        self.reasoning_format = reasoning_format if family_reasoning != "none" else "none"
        self.brief_text = brief_text
        self.template_kwargs = chat_template_kwargs(family_reasoning, self.reasoning_format)
        self._as_text: bool | None = None

    # -- conversational examples -------------------------------------------------------------------------
    def sft_example(self, row: dict) -> dict:
        messages = row["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prefix = think_prefix(self.reasoning_format, row.get("kind"), self.brief_text)
        return {"prompt": [dict(role=m["role"], content=m["content"]) for m in messages[:last]],
                "completion": [_with_prefix(messages[last], prefix)]}

    def dpo_example(self, row: dict) -> dict:
        prefix = think_prefix(self.reasoning_format, row.get("kind"), self.brief_text)
        return {"prompt": [dict(role=m["role"], content=m["content"]) for m in row["prompt"]],
                "chosen": [_with_prefix(m, prefix) for m in row["chosen"]],
                "rejected": [_with_prefix(m, prefix) for m in row["rejected"]]}

    # -- text fallback for templates that rewrite the final turn -----------------------------------------
    def _render(self, messages, add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                  **self.template_kwargs)

    def prompt_is_prefix(self, example: dict) -> bool:
        """Does the template render prompt + completion as (prompt with generation prompt) + completion?"""
        answer = example.get("completion") or example["chosen"]
        prompt = self._render(example["prompt"], True)
        full = self._render(example["prompt"] + answer, False)
        return full.startswith(prompt) and answer[-1]["content"].strip()[-20:] in full[len(prompt):]

    def _completion_text(self, prompt_text: str, message: dict) -> str:
        content = message["content"]
        # The generation prompt may already open the think block (DeepSeek-R1): continue it, don't repeat it.
        for opener in ("<think>\n", "<think>"):
            if prompt_text.endswith(opener) and content.startswith(opener):
                content = content[len(opener):]
                break
        return content + (self.tokenizer.eos_token or "")

    def _prompt_text(self, messages) -> str:
        text = self._render(messages, True)
        bos = self.tokenizer.bos_token
        # The tokenizer adds BOS itself when TRL tokenizes text: don't send it twice.
        if bos and text.startswith(bos) and self.tokenizer("x")["input_ids"][:1] == [self.tokenizer.bos_token_id]:
            text = text[len(bos):]
        return text

    def to_text(self, example: dict) -> dict:
        prompt_text = self._prompt_text(example["prompt"])
        out = {"prompt": prompt_text}
        for key in ("completion", "chosen", "rejected"):
            if key in example:
                out[key] = self._completion_text(self._render(example["prompt"], True), example[key][-1])
        return out

    def use_text(self, example: dict) -> bool:
        if self._as_text is None:
            self._as_text = not self.prompt_is_prefix(example)
            if self._as_text:
                logger.info("the chat template rewrites the final assistant turn; training examples are rendered "
                            "to text with the template (prompt = generation prompt, completion = what follows)")
        return self._as_text

    # -- whole datasets ---------------------------------------------------------------------------------
    def format_dataset(self, dataset, stage: str):
        build = self.sft_example if stage == "sft" else self.dpo_example
        first = build(dataset[0])
        as_text = self.use_text(first)

        def convert(row):
            example = build(row)
            if as_text:
                return self.to_text(example)
            if self.template_kwargs:
                example["chat_template_kwargs"] = dict(self.template_kwargs)
            return example

        return dataset.map(convert, remove_columns=dataset.column_names, desc=f"Formatting {stage} examples")


def example_length(tokenizer, example: dict) -> int:
    """Token count of an example (prompt + longest answer), for grouping by length."""
    def text(x):
        return x if isinstance(x, str) else "".join(m["content"] for m in x)

    answers = [text(example[k]) for k in ("completion", "chosen", "rejected") if k in example]
    return len(tokenizer(text(example["prompt"]) + max(answers, key=len), add_special_tokens=False)["input_ids"])


def group_by_length(dataset, tokenizer, batch_size: int, seed: int = 42, mega: int = 16):
    """Reorder so each batch holds examples of similar length (random mega-batches, sorted inside, batch order
    shuffled): padding stays small with a sequential sampler, and the order is still random across batches."""
    import random

    lengths = [example_length(tokenizer, ex) for ex in dataset]
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = max(1, batch_size) * mega
    batches = []
    for start in range(0, len(order), size):
        chunk = sorted(order[start:start + size], key=lambda i: -lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    tail = [b for b in batches if len(b) < batch_size]  # at most one; keep it last so batches stay aligned
    full = [b for b in batches if len(b) == batch_size]
    rng.shuffle(full)
    return dataset.select([i for b in full + tail for i in b])
