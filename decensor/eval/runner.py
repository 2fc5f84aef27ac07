"""``decensor eval run``: generate (cached, resumable), judge, compute metrics, write results JSON.

Results JSON (one file per run, read by ``eval compare``, reports and model cards)::

    {"format": "decensor-eval/1", "created": ..., "decensor_version": ...,
     "model": {"name_or_path", "revision", "sha"}, "adapter": {"path", "sha256", "run"} | null,
     "suite": {"files": {path: sha256}, "hash", "n_prompts", "selection": {...}},
     "generation": {...}, "backend": "transformers", "judge": {"name", "version"},
     "metrics": {"overall": {metric: {value, ci_low, ci_high, n}}, "by_lang": ..., "by_topic": ...,
                 "zh_en_gap": ..., "by_split": {"seen"|"unseen": {metric: ...}}},
     "judge_correction": {"headline": {"which", "why"}, "rates": {metric: {raw, corrected, ci_low, ci_high,
                          sensitivity, specificity, ...}}} | null,
     "capability": {...} | null, "answers_file": "answers.jsonl"}
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from decensor import __version__
from decensor.data.jsonl import read_jsonl
from decensor.errors import UserError
from decensor.eval.capability import run_capability
from decensor.eval.judges import make_judge
from decensor.eval.metric_catalog import keys_for
from decensor.eval.metrics import SPLIT_NAMES, compute_metrics, corrected_rates
from decensor.eval.suites import EvalPrompt, load_suites, select, suite_hashes, suites_hash
from decensor.generation import GenerationSettings, ModelSpec, generate_answers as generate_cached, model_identity, slug
from decensor.generation.identity import files_sha256
from decensor.generation.spec import ModelFields
from decensor.paths import runs_dir

logger = logging.getLogger(__name__)
RESULTS_FORMAT = "decensor-eval/1"


@dataclass
class EvalArguments(ModelFields):
    suites: list[str] | None = None          # files/folders; default eval/suites
    kinds: list[str] | None = None
    langs: list[str] | None = None
    pairs_per_topic: int | None = None
    backend: str = "transformers"
    backend_options: dict = field(default_factory=dict)  # ModelSpec fields: device_map, base_url, ...
    judge: str = "rules"
    judge_url: str | None = None
    judge_model: str | None = None
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    out: str | None = None
    n_boot: int = 1000
    judge_correction: bool = True            # also judge the calibration set: rates corrected for judge error
    progress: bool = True
    capability: bool = False                 # also run lm-eval (decensor.eval.capability)
    capability_tasks: list[str] | None = None
    capability_limit: float | None = None

    def spec(self) -> ModelSpec:
        """The model and backend to generate with (decensor.generation)."""
        common = self.model_fields()
        return ModelSpec.create(common.pop("model"), self.backend_options, backend=self.backend, **common)


def default_out(args: EvalArguments) -> Path:
    name = slug(Path(args.model).name if Path(args.model).exists() else args.model)
    if args.adapter:
        name += "+" + slug(Path(args.adapter).name)
    return runs_dir() / "eval" / name


def adapter_identity(adapter: str | None) -> dict | None:
    if not adapter:
        return None
    weights = Path(adapter) / "adapter_model.safetensors"
    return {"path": str(adapter), "sha256": files_sha256([weights])[str(weights)] if weights.exists() else None}


def generate_answers(args: EvalArguments, prompts: list[EvalPrompt]) -> dict[str, str]:
    """Answers for ``prompts`` from the cache, generating (and caching) only what is missing."""
    answers = generate_cached(args.spec(), [(p.id, p.prompt) for p in prompts], args.generation, args.progress)
    return {p.id: a for p, a in zip(prompts, answers)}


def judge_correction(judge, records: list[dict], n_boot: int) -> dict:
    """Headline rates raw and corrected for this judge's error on the calibration set (Rogan-Gladen)."""
    from decensor.eval.calibration import calibration_outcomes, load_calibration

    return corrected_rates(records, calibration_outcomes(judge, load_calibration()), n_boot)


def run_eval(args: EvalArguments) -> dict:
    start = time.monotonic()
    if args.capability and args.backend == "openai":
        raise UserError("--capability runs lm-eval on local weights; an openai endpoint has none",
                        field="--capability", hint="evaluate the open weights with --backend transformers for it")
    out = Path(args.out) if args.out else default_out(args)
    out.mkdir(parents=True, exist_ok=True)
    prompts = select(load_suites(args.suites), args.kinds, args.langs, args.pairs_per_topic)
    if not prompts:
        raise ValueError("no evaluation prompts selected")
    answers = generate_answers(args, prompts)

    judge = make_judge(args.judge, url=args.judge_url, model=args.judge_model)
    records = []
    with open(out / "answers.jsonl", "w", encoding="utf-8") as f:
        for p in prompts:
            judgement = judge.judge(p, answers[p.id])
            record = {"id": p.id, "pair_id": p.pair_id, "lang": p.lang, "topic": p.topic, "kind": p.kind,
                      "prompt": p.prompt, "answer": answers[p.id], "judgement": judgement.to_dict(),
                      "key_facts": [kf.fact for kf in p.key_facts]}
            records.append(record)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    results = {
        "format": RESULTS_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "decensor_version": __version__,
        "model": model_identity(args.spec()),
        "adapter": adapter_identity(args.adapter),
        "suite": {"files": suite_hashes(args.suites),
                  "hash": suites_hash(args.suites), "n_prompts": len(prompts),
                  "selection": {"kinds": args.kinds, "langs": args.langs, "pairs_per_topic": args.pairs_per_topic}},
        "generation": asdict(args.generation),
        "backend": args.backend,
        "judge": {"name": judge.name, "version": judge.version},
        "metrics": compute_metrics(records, args.n_boot),
        "judge_correction": judge_correction(judge, records, args.n_boot) if args.judge_correction else None,
        "capability": run_capability(args.model, args.adapter, args.capability_tasks, limit=args.capability_limit,
                                     dtype=args.dtype if args.dtype != "auto" else "float32", revision=args.revision,
                                     trust_remote_code=args.trust_remote_code) if args.capability else None,
        "answers_file": "answers.jsonl",
        "wall_seconds": round(time.monotonic() - start, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    logger.info("results in %s", out / "results.json")
    return results


def load_results(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    if results.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path}: not a decensor eval result (format={results.get('format')!r})")
    results["_dir"] = str(path.parent)
    return results


def load_records(results: dict) -> list[dict]:
    path = Path(results["_dir"]) / results["answers_file"]
    # read_jsonl splits on "\n" only: a U+2028 inside an answer is content (str.splitlines would split there)
    return [row for _, row in read_jsonl(path)]


def format_summary(results: dict) -> str:
    """A plain-text table of the overall metrics with CIs, and the zh-en gap."""
    lines = [f"{'metric':32s} {'value':>7s}  95% CI            n    zh-en gap"]
    gap = results["metrics"]["zh_en_gap"]
    for name, m in results["metrics"]["overall"].items():
        g = gap.get(name)
        gtxt = f"{g['value']:+.2f} [{g['ci_low']:+.2f},{g['ci_high']:+.2f}]" if g else ""
        lines.append(f"{name:32s} {m['value']:7.2f}  [{m['ci_low']:.2f}, {m['ci_high']:.2f}]  {m['n']:5d}    {gtxt}")
    for lang, ms in sorted(results["metrics"]["by_lang"].items()):
        keys = [k for k in keys_for("per_language") if k in ms]
        lines.append(f"[{lang}] " + ", ".join(f"{k}={ms[k]['value']:.2f}" for k in keys))
    for split, ms in results["metrics"].get("by_split", {}).items():
        keys = [k for k in keys_for("unseen") if k in ms]
        lines.append(f"[{SPLIT_NAMES.get(split, split)}] " + ", ".join(
            f"{k}={ms[k]['value']:.2f} (n={ms[k]['n']})" for k in keys))
    lines += format_correction(results.get("judge_correction"))
    return "\n".join(lines)


def format_correction(correction: dict | None) -> list[str]:
    """Raw vs judge-corrected rates, and which one is the headline and why."""
    if not correction:
        return []
    lines = ["", f"{'judge-corrected (Rogan-Gladen)':32s} {'raw':>6s} {'corrected':>9s}  95% CI (eval + calibration)"
                 f"  sens  spec"]
    for key, r in correction["rates"].items():
        lines.append(f"{key:32s} {r['raw']:6.2f} {r['corrected']:9.2f}  [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                     f"{'':15s}{r['sensitivity']:5.2f} {r['specificity']:5.2f}")
    head = correction["headline"]
    lines.append(f"headline: the {head['which']} rate. {head['why']}")
    return lines


__all__ = ["EvalArguments", "format_summary", "load_records", "load_results", "run_eval"]
