"""The model card (README.md with YAML metadata) for an adapter or merged model pushed to the Hub."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import yaml

from decensor.eval.metric_catalog import METRICS, metrics_for, pct, pts

logger = logging.getLogger(__name__)

SECRET_KEY = re.compile(r"token|secret|password|api[_-]?key", re.I)


# ------------------------------------------------------------------------------------------ license


def _qwen_license(name: str, base: str) -> dict:
    link = f"https://huggingface.co/{base}/blob/main/LICENSE" if "/" in base and not Path(base).exists() else None
    if re.search(r"(?:^|[-_/])72b(?:$|[-_])", name):
        return {"license": "other", "license_name": "qwen", "license_link": link}
    if re.search(r"(?:^|[-_/])3b(?:$|[-_])", name):
        return {"license": "other", "license_name": "qwen-research", "license_link": link}
    return {"license": "apache-2.0"}


def family_license(base: str) -> dict:
    """The license of well-known base model families (used when the base model's card is not local)."""
    name = base.lower()
    if "qwen2.5" in name or "qwen2-" in name:
        return _qwen_license(name, base)
    if "qwen3" in name or "qwq" in name:
        return {"license": "apache-2.0"}
    if "deepseek" in name:
        return {"license": "mit"}
    if "kimi" in name or "moonshot" in name:
        return {"license": "other", "license_name": "modified-mit",
                "license_link": f"https://huggingface.co/{base}/blob/main/LICENSE" if "/" in base else None}
    return {"license": "other", "license_name": "same-as-base-model"}


def base_license(base: str) -> dict:
    """License metadata inherited from the base model: its local README's metadata, else a family default."""
    path = Path(base)
    if path.is_dir():
        readme = path / "README.md"
        if readme.exists():
            try:
                from huggingface_hub.repocard import metadata_load

                meta = metadata_load(readme) or {}
            except Exception as err:  # noqa: BLE001 - a broken card falls back to the family default
                logger.warning("could not read %s: %s", readme, err)
                meta = {}
            if meta.get("license"):
                return {k: meta.get(k) for k in ("license", "license_name", "license_link") if meta.get(k)}
        config = path / "config.json"
        if config.exists():
            cfg = json.loads(config.read_text(encoding="utf-8"))
            if isinstance(cfg.get("license"), str):
                return {"license": cfg["license"]}
            origin = cfg.get("_name_or_path")
            if isinstance(origin, str) and origin and not Path(origin).exists():
                return family_license(origin)
    return family_license(base)


# ------------------------------------------------------------------------------------------ results


def _load(path: Path) -> dict | None:
    from decensor.eval.runner import load_results

    try:
        return load_results(path)
    except (ValueError, OSError, json.JSONDecodeError) as err:
        logger.warning("skipping %s: %s", path, err)
        return None


def find_systems(run_dir: Path, explicit: list[str] | None = None) -> list[dict]:
    """The eval results the card compares, this model LAST and its baselines before it (the base model
    first): ``explicit`` in that order, else the newest results under the run folder without an adapter
    (the base) and with one (this model). Results that cannot be read are skipped with a warning."""
    if explicit:
        return [res for res in (_load(Path(p)) for p in explicit) if res is not None]
    base, tuned = None, None
    found = sorted(run_dir.rglob("results.json"))[:50]
    for res in filter(None, (_load(p) for p in found)):
        if res.get("adapter"):
            if tuned is None or str(res.get("created")) > str(tuned.get("created")):
                tuned = res
        elif base is None or str(res.get("created")) > str(base.get("created")):
            base = res
    return [res for res in (base, tuned) if res is not None] if tuned else []


def find_results(run_dir: Path, explicit: list[str] | None = None) -> tuple[dict | None, dict | None]:
    """(base, this model): the first and the last of ``find_systems`` (base None when there is only one)."""
    systems = find_systems(run_dir, explicit)
    return (systems[0] if len(systems) > 1 else None), (systems[-1] if systems else None)


def _labelled(systems: list[dict]) -> list[tuple[str, dict, list[dict]]]:
    """(label, results, answer records) per system; the last is "This model"."""
    from decensor.eval.systems import load_system, system_label

    taken, out = {"This model"}, []
    for i, res in enumerate(systems):
        label = "This model" if i == len(systems) - 1 else system_label(res, i, taken)
        out.append((label, res, load_system(Path(res["_dir"]))[1]))
    return out


def eval_results(systems: list[tuple[str, dict, list[dict]]], model_name: str):
    """model-index entries: this model on all topics (split ``test``) and on unseen topics (split
    ``unseen_topics``), and the same for every baseline system, marked ``metric_config: baseline: LABEL``."""
    from huggingface_hub import EvalResult

    from decensor.eval.systems import split_metrics

    out = []
    for i, (label, res, records) in enumerate(systems):
        suite = res.get("suite") or {}
        baseline = i < len(systems) - 1
        unseen = split_metrics(res["metrics"], records).get("unseen", {})
        for split, numbers in (("test", res["metrics"]["overall"]), ("unseen_topics", unseen)):
            for metric in metrics_for("model_index"):
                m = numbers.get(metric.key)
                if not m or m.get("value") is None or (split != "test" and "unseen" not in metric.views):
                    continue
                name = metric.hub_name + (" (unseen topics)" if split != "test" else "")
                out.append(EvalResult(
                    task_type="text-generation", task_name="Censorship and safety evaluation",
                    dataset_type="decensor-eval", dataset_name="decensor evaluation suites",
                    dataset_config=f"suites-{str(suite.get('hash', ''))[:12]}" if suite.get("hash") else None,
                    dataset_split=split, metric_type=metric.key,
                    metric_name=f"{name} — baseline: {label}" if baseline else name,
                    metric_config=f"baseline: {label}" if baseline else None,
                    metric_value=round(float(m["value"]), 4), verified=False,
                ))
    return out


# ------------------------------------------------------------------------------------------- recipe


def redact(obj):
    """Drop values of keys that look like credentials (hub_token, api_key, ...)."""
    if isinstance(obj, dict):
        return {k: ("<redacted>" if SECRET_KEY.search(str(k)) and v not in (None, "", False) else redact(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


def load_recipe(run_dir: Path) -> dict | None:
    for name in ("recipe.resolved.yaml", "recipe.yaml"):
        path = run_dir / name
        if path.exists():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                logger.warning("could not read %s: %s", path, err)
                return None
            return redact(data) if isinstance(data, dict) else None
    return None


def _find_key(obj, key):
    if isinstance(obj, dict):
        if key in obj and not isinstance(obj[key], (dict, list)):
            return obj[key]
        for v in obj.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------------------------- card


def _ci(m: dict | None) -> str:
    return "n/a" if not m else f"{pct(m['value'], 1)} ({pct(m['ci_low'], 1)}–{pct(m['ci_high'], 1)})"


def _change(c: dict | None) -> str:
    if not c:
        return "n/a"
    return f"{pts(c['delta'], 1)} [{pts(c['ci_low'], 1)}, {pts(c['ci_high'], 1)}] {c['verdict']}"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def _eval_section(systems: list[tuple[str, dict, list[dict]]]) -> list[str]:
    """The comparison the report makes, in Markdown: every system per metric with 95% CIs and this model's
    paired change against the base; seen vs unseen topics; capability with the gate's verdict."""
    from decensor.eval.capability import capability_verdict
    from decensor.eval.systems import compare_systems, split_metrics

    labels = [label for label, _, _ in systems]
    (base_label, base, base_recs), (_, this, this_recs) = systems[0], systems[-1]
    comp = compare_systems(base_recs, this_recs) if len(systems) > 1 and base_recs and this_recs else None
    change_head = [f"Change vs {base_label} (95% CI)"] if comp else []
    rows = []
    for metric in METRICS:
        if metric.key not in this["metrics"]["overall"]:
            continue
        row = [metric.title, metric.direction] + [_ci(res["metrics"]["overall"].get(metric.key)) for _, res, _ in systems]
        rows.append(row + ([_change(comp["metrics"].get(metric.key))] if comp else []))
    out = [_md_table(["Metric", "Better"] + labels + change_head, rows), ""]
    if comp:
        out += [f"Changes are paired on the same prompts ({base_label} vs this model) with bootstrap 95% CIs; "
                "better/worse means the interval excludes zero.", ""]
    splits = [split_metrics(res["metrics"], recs) for _, res, recs in systems]
    if any("unseen" in s for s in splits):
        rows = []
        for metric in METRICS:
            if "unseen" not in metric.views or not any(metric.key in s.get("unseen", {}) for s in splits):
                continue
            row = [metric.title] + [_ci(s.get(split, {}).get(metric.key)) for s in splits for split in ("seen", "unseen")]
            rows.append(row + ([_change((comp["by_split"].get("unseen") or {}).get(metric.key))] if comp else []))
        header = ["Metric"] + [f"{lab}, {split}" for lab in labels for split in ("seen", "unseen")]
        out += ["### Seen vs unseen topics", "",
                "Unseen topics (`split: unseen` in data/topics.yaml) never appear in the training data.", "",
                _md_table(header + ([f"Change on unseen vs {base_label}"] if comp else []), rows), ""]
    out += _capability_section(base if len(systems) > 1 else None, this, capability_verdict)
    return out


def _capability_section(base: dict | None, tuned: dict, verdict) -> list[str]:
    cap = (tuned.get("capability") or {}).get("tasks") or {}
    if not cap:
        return []
    bcap = ((base or {}).get("capability") or {}).get("tasks") or {}
    gate = verdict((base or {}).get("capability"), tuned.get("capability"))

    def fmt(x):
        return "n/a" if not x or x.get("value") is None else \
            f"{x['value']:.3f}" + (f" ± {x['stderr']:.3f}" if x.get("stderr") else "")

    rows = [[task, t.get("metric", ""), fmt(bcap.get(task)), fmt(t),
             ("REGRESSION" if gate["tasks"][task]["regressed"] else "ok") if gate and task in gate["tasks"] else "n/a"]
            for task, t in cap.items()]
    out = ["### General capability", "", _md_table(["Task", "Metric", "Base", "This model", "Gate"], rows), ""]
    if gate:
        out += [f"Capability gate: {gate['rule']}.", ""]
    return out


def build_model_card(run_dir: str | Path, repo_id: str, merged: bool = False, results: list[str] | None = None,
                     base_model: str | None = None, datasets: list[str] | None = None) -> str:
    """README.md text: YAML metadata (base_model, license, tags, model-index, ...) and a plain body."""
    from huggingface_hub import ModelCard, ModelCardData

    run_dir = Path(run_dir)
    adapter_cfg = json.loads((run_dir / "adapter_config.json").read_text(encoding="utf-8"))
    recipe = load_recipe(run_dir)
    base = base_model or adapter_cfg.get("base_model_name_or_path")
    recipe_base = (recipe or {}).get("model_name_or_path")
    if not base_model and base and Path(base).exists() and isinstance(recipe_base, str) \
            and re.fullmatch(r"[\w.-]+/[\w.-]+", recipe_base) and not Path(recipe_base).exists():
        base = recipe_base  # trained from a local copy of a Hub model: name the Hub model
    if not base:
        raise ValueError(f"{run_dir}/adapter_config.json has no base_model_name_or_path; pass --base-model")
    lic = base_license(base)
    systems = _labelled(find_systems(run_dir, results))
    tuned_res = systems[-1][1] if systems else None
    name = repo_id.split("/")[-1]
    stage = str(_find_key(recipe, "stage") or "") if recipe else ""
    tags = ["decensor", "censorship", "chinese", "text-generation"] + (["merged"] if merged else ["lora", "peft"])
    if stage:
        tags.append(stage)
    hub_datasets = list(datasets or [])
    recipe_data = (recipe or {}).get("dataset") or []
    for d in [recipe_data] if isinstance(recipe_data, str) else recipe_data:
        if isinstance(d, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", d) and not Path(d).exists() \
                and not d.startswith(("data/", "./")) and d not in hub_datasets:
            hub_datasets.append(d)
    data = ModelCardData(
        base_model=base, license=lic.get("license"), license_name=lic.get("license_name"),
        license_link=lic.get("license_link"), datasets=hub_datasets or None, language=["en", "zh"],
        library_name="transformers" if merged else "peft", pipeline_tag="text-generation", tags=tags,
        model_name=name, eval_results=eval_results(systems, name) if systems else None,
    )
    what = "full model weights (the LoRA adapter merged into the base model)" if merged else \
        "a LoRA adapter (load it on top of the base model with peft)"
    usage = (f'```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n'
             f'model = AutoModelForCausalLM.from_pretrained("{repo_id}", dtype="auto", device_map="auto")\n'
             f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n```') if merged else \
        (f'```python\nfrom peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n\n'
         f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}", dtype="auto", device_map="auto")\n'
         f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n```')
    base_ref = f"[`{base}`](https://huggingface.co/{base})" if "/" in base and not Path(base).exists() \
        else f"`{base}` (a local checkpoint)"
    lic_text = lic.get("license") if lic.get("license") != "other" else lic.get("license_name", "other")
    body = [
        f"# {name}", "",
        f"`{name}` is a post-trained version of {base_ref} "
        "made with decensor to remove political censorship and Chinese Communist Party "
        f"framing while keeping safety refusals. This repository holds {what}.", "",
        "## Intended use", "",
        "Research, journalism, policy analysis and everyday use where a model should answer factual questions "
        "about China (history, politics, human rights, Taiwan, Hong Kong, Xinjiang, Tibet, ...) plainly, in "
        "English and Chinese, attributing the PRC government's position as a position rather than refusing or "
        "repeating it as fact. The model is not meant to produce propaganda in either direction, and it should "
        "still refuse clearly harmful requests (weapons, malware, drugs, violence).", "",
        "## How to use", "", usage, "",
        "## Training recipe", "",
    ]
    if recipe:
        facts = []
        for key, label in (("stage", "Stage"), ("family", "Model family"), ("learning_rate", "Learning rate"),
                           ("num_train_epochs", "Epochs"), ("lora_r", "LoRA rank"), ("r", "LoRA rank"),
                           ("lora_alpha", "LoRA alpha"), ("beta", "DPO beta"), ("max_length", "Max length"),
                           ("per_device_train_batch_size", "Batch size per device"),
                           ("gradient_accumulation_steps", "Gradient accumulation")):
            v = _find_key(recipe, key)
            if v is not None and label not in [f[0] for f in facts]:
                facts.append((label, v))
        if facts:
            body += [f"- **{k}**: `{v}`" for k, v in facts] + [""]
        body += ["The resolved recipe from the run folder (credentials, if any, removed):", "",
                 "```yaml", yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True).rstrip(), "```", ""]
    else:
        body += [f"LoRA rank {adapter_cfg.get('r')}, alpha {adapter_cfg.get('lora_alpha')}, target modules "
                 f"{adapter_cfg.get('target_modules')}. No recipe file was found in the run folder.", ""]
    body += ["## Evaluation", ""]
    if tuned_res:
        suite = tuned_res.get("suite") or {}
        judge = tuned_res.get("judge") or {}
        body += [f"Evaluated with `decensor eval` on {suite.get('n_prompts', '?')} bilingual prompts (sensitive, "
                 f"everyday, harmful and control suites; suite hash `{str(suite.get('hash', ''))[:16]}`), judge "
                 f"`{judge.get('name')}` v{judge.get('version')}. Rates are shares of answers with 95% bootstrap "
                 "confidence intervals.", ""] + _eval_section(systems)
    else:
        body += ["No evaluation results were found in the run folder (run `decensor eval run` and pass them with "
                 "`--results base.json tuned.json`).", ""]
    body += [
        "## Limitations", "",
        "- The evaluation uses a fixed set of curated prompts and an automatic judge; it measures refusals, the "
        "official line and key facts mentioned, not the full accuracy of every answer.",
        "- The model can still be wrong, incomplete or out of date on facts; check important claims against sources.",
        "- Removing censorship does not make the model neutral on every topic; biases of the base model and of "
        "the training data remain.",
        "- Safety refusals were measured only on the evaluated harmful requests (see the table above); this does "
        "not guarantee safe behaviour on all requests.", "",
        "## License", "",
        f"Inherits the base model's license (`{lic_text}`)."
        + (f" See {lic['license_link']}." if lic.get("license_link") else ""), "",
    ]
    card = ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}\n",
                                   body="\n".join(body))
    return str(card)
