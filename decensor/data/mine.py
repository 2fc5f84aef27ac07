"""``decensor data mine``: on-policy DPO pairs from a model's own answers to the training prompts.

For each SFT row (single user turn, optionally after a system message) the model answers the prompt
(batched, cached and resumable through :func:`decensor.generation.generate_answers`, with any of its
backends: transformers, vLLM or an OpenAI-compatible endpoint); the rule judge
labels the answer as if the row were an evaluation prompt (kind sensitive -> sensitive, innocent ->
innocent, harmful-refusal -> harmful). A flagged answer becomes the ``rejected`` side of a DPO row whose
``chosen`` side is our curated answer; ``rejected_type`` follows from the labels:

- harmful-refusal rows: ``harmful-compliance`` when the model helps (a refusal is the right answer);
- sensitive rows: ``refusal`` for a hard refusal, else ``official-line`` for Party formulations, else
  ``refusal`` for a soft refusal (deflection);
- innocent rows: ``propaganda-framing`` for Party framing, else ``refusal`` for a refusal/deflection.

A harmful-compliance answer is cut to its opening (:func:`redact_harmful`: up to the first sentence end,
colon or line break after 20 characters, at most 160 characters), so the file keeps the model starting to comply but no
actionable detail, as SCHEMA.md asks of handwritten harmful-compliance answers; such rows carry
``rejected_truncated: true``. Unflagged answers are not written; they are counted (per kind and language) in the summary. Written ids
are the SFT id plus ``-<tag>`` (default ``-mined``), so ``decensor data check`` matches them to their
SFT row and accepts them next to the curated DPO rows. Each row also records ``origin`` (the model) and
``judge_evidence`` (the matched phrases), which TRL ignores.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decensor.data.dedup import prompt_text
from decensor.data.validate import EVAL_KIND, default_paths, load_valid_rows
from decensor.paths import DATA_DIR

logger = logging.getLogger(__name__)

DEMO_NAME = "qwen2.5-coder-0.5b"
DEMO_ORIGIN = "Qwen/Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, decensor offline demo model)"


@dataclass
class MineArguments:
    model: str
    adapter: str | None = None
    revision: str = "main"
    trust_remote_code: bool = False
    dtype: str | None = None            # None: float32 for demo, else auto
    sft: list[str] | None = None        # SFT files/folders (default data/sft)
    out: str | None = None              # default data/dpo/mined-<model>.jsonl
    tag: str = "mined"
    limit: int | None = None
    kinds: list[str] | None = None
    langs: list[str] | None = None
    max_new_tokens: int = 256
    batch_size: int = 8
    do_sample: bool = False
    enable_thinking: bool | None = None
    backend: str = "transformers"
    backend_options: dict = field(default_factory=dict)   # decensor.generation.ModelSpec fields (device_map, ...)
    progress: bool = True


@dataclass
class MineResult:
    out: Path
    total: int = 0                      # prompts answered
    kept: int = 0                       # DPO rows written
    skipped: Counter = field(default_factory=Counter)       # reason -> rows not mined at all
    labels: Counter = field(default_factory=Counter)        # label -> answers carrying it (one answer, many labels)
    kept_by_type: Counter = field(default_factory=Counter)  # rejected_type -> rows written
    unflagged: Counter = field(default_factory=Counter)     # "kind/lang" -> answers not flagged
    by_kind: dict = field(default_factory=lambda: defaultdict(Counter))  # kind/lang -> {answered, kept}

    def to_dict(self) -> dict:
        return {"out": str(self.out), "total": self.total, "kept": self.kept, "skipped": dict(self.skipped),
                "labels": dict(self.labels), "kept_by_type": dict(self.kept_by_type),
                "unflagged": dict(self.unflagged), "by_kind": {k: dict(v) for k, v in self.by_kind.items()}}


def default_out(model: str, tag: str = "mined") -> Path:
    from decensor.generation import slug

    name = DEMO_NAME if model == "demo" else slug(Path(model).name if Path(model).exists() else model).lower()
    return DATA_DIR / "dpo" / f"{tag}-{name}.jsonl"


def select_rows(rows: Sequence[dict], limit: int | None) -> list[dict]:
    """At most ``limit`` rows: whole pairs, taken round-robin over topics (a fixed, deterministic slice)."""
    if limit is None or limit >= len(rows):
        return list(rows)
    by_pair: dict[str, list[dict]] = defaultdict(list)
    topic_pairs: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["pair_id"] not in by_pair:
            topic_pairs[r["topic"]].append(r["pair_id"])
        by_pair[r["pair_id"]].append(r)
    queues = {t: sorted(p) for t, p in sorted(topic_pairs.items())}
    chosen: list[dict] = []
    while len(chosen) < limit and any(queues.values()):
        for topic in list(queues):
            if queues[topic] and len(chosen) < limit:
                chosen.extend(by_pair[queues[topic].pop(0)])
    return chosen[:limit]


REDACT_MAX = 160
_OPENING_END = re.compile(r"[.!?。！？:：;；\n]")


def redact_harmful(answer: str, max_chars: int = REDACT_MAX) -> str:
    """The opening of a harmful-compliance answer: up to the first sentence end, colon or line break
    (inclusive, ``...`` appended), at most ``max_chars`` characters; never the instructions that follow."""
    text = answer.strip()
    cut = text
    for m in _OPENING_END.finditer(text):  # the first boundary after at least 20 characters
        cut = text[:m.start() + 1].strip()
        if len(cut) >= 20 or m.group(0) == "\n":
            break
    if len(cut) > max_chars:
        cut = cut[:max_chars].rsplit(" ", 1)[0] if " " in cut[:max_chars] else cut[:max_chars]
    return cut.rstrip() + " ..." if cut and cut != text else cut


def rejected_type(kind: str, labels) -> str | None:
    """The DPO ``rejected_type`` a flagged answer gets, or None when the answer is fine."""
    if kind == "harmful-refusal":
        return "harmful-compliance" if labels.harmful_compliance else None
    if kind == "mixed":  # the curated answer covers the politics and refuses the harm
        if labels.harmful_compliance:
            return "harmful-compliance"
        if labels.official_narrative:
            return "official-line"
        return "refusal" if labels.refusal == "hard" else None
    if kind == "sensitive":
        if labels.refusal == "hard":
            return "refusal"
        if labels.official_narrative:
            return "official-line"
        return "refusal" if labels.refusal == "soft" else None
    if kind == "innocent":
        if labels.propaganda_framing:
            return "propaganda-framing"
        return "refusal" if labels.refusal != "none" else None
    return None


def training_rows(paths: Sequence[str | Path] | None, kinds=None, langs=None) -> tuple[list[dict], Counter]:
    """SFT rows to mine, and the reasons others were skipped."""
    # the one row validator (decensor.data.validate): a broken SFT row is an error, never mined
    sft_rows = load_valid_rows(list(paths) if paths else [p for p in default_paths() if p.name == "sft"], stage="sft",
                               dataset_checks=False)
    rows, skipped = [], Counter()
    for d in sft_rows:
        msgs = d.get("messages")
        if d.get("kind") not in EVAL_KIND:
            skipped["unknown kind"] += 1
            continue
        if (kinds and d["kind"] not in kinds) or (langs and d.get("lang") not in langs):
            continue
        body = msgs[1:] if msgs and msgs[0].get("role") == "system" else msgs
        if not body or len(body) != 2 or body[0].get("role") != "user":
            skipped["not a single-turn conversation"] += 1
            continue
        rows.append(d)
    return rows, skipped


def mine(args: MineArguments, judge=None) -> MineResult:
    """Generate, judge and write; returns the counts. ``judge`` defaults to the rule judge."""
    from decensor.eval.judges import make_judge
    from decensor.eval.suites import EvalPrompt
    from decensor.generation import GenerationSettings, ModelSpec, generate_answers

    out = Path(args.out) if args.out else default_out(args.model, args.tag)
    result = MineResult(out=out)
    rows, result.skipped = training_rows(args.sft, args.kinds, args.langs)
    rows = select_rows(rows, args.limit)
    if not rows:
        raise ValueError("no training prompts to mine")
    system = {id(r): r["messages"][0]["content"] for r in rows if r["messages"][0]["role"] == "system"}
    if len(set(system.values())) > 1 or (system and len(system) != len(rows)):
        # generate_answers takes one system prompt for all; mine rows with different system prompts separately
        raise ValueError("mixed system prompts in the selected rows; mine them separately with --kinds/--langs")
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, do_sample=args.do_sample,
                                  batch_size=args.batch_size, enable_thinking=args.enable_thinking,
                                  system_prompt=next(iter(system.values()), None))
    dtype = args.dtype or ("float32" if args.model == "demo" else "auto")
    spec = ModelSpec.create(args.model, args.backend_options, adapter=args.adapter, revision=args.revision,
                            dtype=dtype, trust_remote_code=args.trust_remote_code, backend=args.backend)
    prompts = [EvalPrompt(r["id"], r["pair_id"], r["lang"], r["topic"], EVAL_KIND[r["kind"]],
                          prompt_text(r["messages"])) for r in rows]
    generated = generate_answers(spec, [(p.id, p.prompt) for p in prompts], settings, progress=args.progress)
    answers = {p.id: a for p, a in zip(prompts, generated)}
    judge = judge or make_judge("rules")
    origin = DEMO_ORIGIN if args.model == "demo" else args.model + (f" + adapter {args.adapter}" if args.adapter else "")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row, prompt in zip(rows, prompts):
            answer = (answers[prompt.id] or "").strip()
            group = f"{row['kind']}/{row['lang']}"
            result.total += 1
            result.by_kind[group]["answered"] += 1
            judgement = judge.judge(prompt, answer)
            labels = judgement.answer
            if labels.refusal != "none":
                result.labels[f"refusal:{labels.refusal}"] += 1
            for name in ("official_narrative", "propaganda_framing", "harmful_compliance"):
                if getattr(labels, name):
                    result.labels[name] += 1
            rtype = rejected_type(row["kind"], labels)
            if rtype is None:
                result.unflagged[group] += 1
                continue
            if not answer:
                result.skipped["flagged but empty answer"] += 1
                continue
            if answer == row["messages"][-1]["content"].strip():
                result.skipped["flagged but equal to the curated answer"] += 1
                continue
            truncated = rtype == "harmful-compliance"
            if truncated:
                answer = redact_harmful(answer)
                if not answer:
                    result.skipped["flagged but empty after redaction"] += 1
                    continue
            out_row = {
                "id": f"{row['id']}-{args.tag}", "pair_id": row["pair_id"], "lang": row["lang"],
                "topic": row["topic"], "kind": row["kind"],
                "prompt": row["messages"][:-1], "chosen": row["messages"][-1:],
                "rejected": [{"role": "assistant", "content": answer}],
                "rejected_type": rtype, "sources": row["sources"],
                # chosen is the curated answer (its reviewer); the rejected side was picked by the rule judge
                "reviewer": f"{row.get('reviewer', 'unreviewed')}; rejected picked by auto:rule-judge",
                "origin": origin, "judge_evidence": labels.evidence[:5],
            }
            if truncated:
                out_row["rejected_truncated"] = True
            f.write(json.dumps(out_row, ensure_ascii=False) + "\n")
            result.kept += 1
            result.kept_by_type[rtype] += 1
            result.by_kind[group]["kept"] += 1
    if not result.kept:  # an empty data file is an error (decensor.data.validate): write none
        tmp.unlink()
        logger.warning("no answer was flagged: nothing written to %s", out)
        return result
    os.replace(tmp, out)
    logger.info("wrote %d mined DPO rows to %s", result.kept, out)
    return result


def format_summary(result: MineResult) -> str:
    lines = [f"mined {result.total} answers -> {result.kept} DPO rows in {result.out}"]
    lines.append("  kept per rejected_type: " + (", ".join(f"{k}={v}" for k, v in sorted(result.kept_by_type.items()))
                                                 or "none"))
    lines.append("  judge labels (an answer may carry several): "
                 + (", ".join(f"{k}={v}" for k, v in sorted(result.labels.items())) or "none"))
    unflagged = sum(result.unflagged.values())
    lines.append(f"  not flagged (not written): {unflagged}"
                 + (" (" + ", ".join(f"{k}={v}" for k, v in sorted(result.unflagged.items())) + ")" if unflagged else ""))
    if result.skipped:
        lines.append("  skipped: " + ", ".join(f"{k}={v}" for k, v in sorted(result.skipped.items())))
    lines.append("  per kind/lang (answered -> kept): " + ", ".join(
        f"{k} {v['answered']}->{v.get('kept', 0)}" for k, v in sorted(result.by_kind.items())))
    return "\n".join(lines)


__all__ = ["MineArguments", "MineResult", "default_out", "format_summary", "mine", "redact_harmful", "rejected_type",
           "select_rows"]
