"""``decensor demo``: the whole job on the real, censored offline Qwen model, on a CPU.

Stages (each one records its outcome in ``<run>/stages/<name>.json``; a re-run skips finished stages,
and the stages that train resume from their last checkpoint):

1. fetch       download, verify (SHA-256) and convert the offline Qwen model
2. eval-base   evaluate it on a demo-sized slice of every suite, both languages (+ local capability task)
3. mine        answer the training prompts, keep the censored answers as on-policy DPO pairs
4. sft         LoRA SFT on the curated answers (recipes/demo-cpu/sft.yaml)
5. dpo         DPO from the SFT adapter on curated + mined pairs (recipes/demo-cpu/dpo.yaml)
6. eval-tuned  the same slice with the adapter
7. report      policy report (HTML + Markdown + JSON), judge quality, dry-run Hub folder
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from decensor.paths import DATA_DIR, RECIPES_DIR, runs_dir

logger = logging.getLogger(__name__)
console = Console()


@dataclass
class DemoSettings:
    """The sizes of one demo; ``quick()`` is the few-minute smoke version CI runs."""

    pairs_per_topic: int = 1          # eval slice: prompt pairs per topic (all 57 topics, en + zh)
    eval_max_new_tokens: int = 128
    batch_size: int = 16
    mine_limit: int = 96              # training prompts answered for on-policy pairs
    mine_max_new_tokens: int = 128
    sft_overrides: dict = field(default_factory=dict)   # typed recipe overrides, e.g. {"max_steps": 2}
    dpo_overrides: dict = field(default_factory=dict)
    capability_limit: float | None = None
    eval_kinds: tuple[str, ...] | None = None

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(pairs_per_topic=1, eval_max_new_tokens=24, batch_size=16, mine_limit=8, mine_max_new_tokens=24,
                   sft_overrides={"max_steps": 2, "save_steps": 1, "max_length": 256},
                   dpo_overrides={"max_steps": 2, "save_steps": 1, "max_length": 256},
                   capability_limit=8, eval_kinds=("harmful", "control"))


STAGES = ("fetch", "eval-base", "mine", "sft", "dpo", "eval-tuned", "report")


class Demo:
    def __init__(self, run_dir: str | Path | None = None, settings: DemoSettings | None = None, quick: bool = False):
        self.quick = quick
        self.settings = settings or (DemoSettings.quick() if quick else DemoSettings())
        self.run = Path(run_dir) if run_dir else runs_dir() / ("demo-quick" if quick else "demo")
        self.stages = self.run / "stages"

    # --- bookkeeping -------------------------------------------------------------------------------
    def done(self, stage: str) -> dict | None:
        marker = self.stages / f"{stage}.json"
        return json.loads(marker.read_text()) if marker.exists() else None

    def _stage(self, number: int, stage: str, fn: Callable[[], dict]) -> dict:
        previous = self.done(stage)
        if previous is not None:
            console.print(f"[dim][{number}/{len(STAGES)}] {stage}: done earlier ({previous['seconds']:.0f} s), skipped[/dim]")
            return previous
        console.rule(f"[bold][{number}/{len(STAGES)}] {stage}")
        start = time.monotonic()
        info = fn()
        info["seconds"] = round(time.monotonic() - start, 1)
        self.stages.mkdir(parents=True, exist_ok=True)
        (self.stages / f"{stage}.json").write_text(json.dumps(info, indent=2, ensure_ascii=False))
        console.print(f"[green]{stage} finished in {info['seconds']:.0f} s[/green]")
        return info

    # --- stages --------------------------------------------------------------------------------------
    def fetch(self) -> dict:
        from decensor.models.demo_model import fetch_demo_model

        return {"model_dir": str(fetch_demo_model())}

    def evaluate(self, name: str, adapter: str | None) -> dict:
        from decensor.eval.runner import EvalArguments, format_summary, run_eval
        from decensor.generation import GenerationSettings

        s = self.settings
        results = run_eval(EvalArguments(
            model="demo", adapter=adapter, dtype="float32", pairs_per_topic=s.pairs_per_topic,
            kinds=list(s.eval_kinds) if s.eval_kinds else None, out=str(self.run / name),
            generation=GenerationSettings(max_new_tokens=s.eval_max_new_tokens, batch_size=s.batch_size),
            capability=True, capability_limit=s.capability_limit))
        console.print(format_summary(results))
        return {"results": str(self.run / name / "results.json"), "n_prompts": results["suite"]["n_prompts"]}

    def mine(self) -> dict:
        from decensor.data.mine import MineArguments, format_summary, mine

        s = self.settings
        result = mine(MineArguments(model="demo", dtype="float32", out=str(self.run / "mined.jsonl"),
                                    limit=s.mine_limit, max_new_tokens=s.mine_max_new_tokens, batch_size=s.batch_size))
        console.print(format_summary(result))
        return result.to_dict()

    def train(self, stage: str) -> dict:
        from decensor.train import run_recipe

        s = self.settings
        overrides = {"output_dir": str(self.run / stage)}
        if stage == "sft":
            overrides.update(s.sft_overrides)
        else:
            # curated pairs plus the pairs mined from this model in stage 3 (not the shipped mined file)
            curated = sorted(str(p) for p in (DATA_DIR / "dpo").glob("*.jsonl") if not p.name.startswith("mined-"))
            mined = self.run / "mined.jsonl"   # an empty data file is an error: none mined, none listed
            mined_list = [str(mined)] if mined.is_file() and mined.stat().st_size else []
            overrides.update(init_adapter=str(self.run / "sft"), dataset=curated + mined_list, **s.dpo_overrides)
        out = run_recipe(RECIPES_DIR / "demo-cpu" / f"{stage}.yaml", overrides=overrides)
        return {"run_dir": str(out)}

    def report(self) -> dict:
        from decensor.eval.calibration import judge_check, load_calibration
        from decensor.eval.judges import RuleJudge
        from decensor.hub.push import push_model
        from decensor.report import write_report
        from decensor.report.pdf import find_chromium

        check = judge_check(RuleJudge(), load_calibration())
        check["judge"] = {"name": "rules", "version": RuleJudge.version}
        check_path = self.run / "judge-check.json"
        check_path.write_text(json.dumps(check, indent=2))
        base, tuned = self.run / "eval-base" / "results.json", self.run / "eval-tuned" / "results.json"
        paths = write_report([base, tuned], self.run / "report", judge_check=check_path,
                             title="decensor demo: offline Qwen2.5-Coder-0.5B-Instruct, before and after",
                             pdf=find_chromium() is not None)  # the PDF needs Chromium; HTML and Markdown do not
        shutil.rmtree(self.run / "hub-dry-run", ignore_errors=True)  # the demo's own output: rebuilt each time
        hub = push_model(self.run / "dpo", repo_id="your-org/qwen2.5-coder-0.5b-decensor-demo",
                         dry_run=self.run / "hub-dry-run", results=[str(base), str(tuned)])
        return {"report": {k: str(v) for k, v in paths.items()}, "hub_dry_run": hub}

    # --- the whole job ---------------------------------------------------------------------------------
    def run_all(self) -> dict:
        start = time.monotonic()
        console.print(f"[bold]decensor demo[/bold] ({'quick' if self.quick else 'full'}) in {self.run}")
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "demo-settings.json").write_text(json.dumps(asdict(self.settings), indent=2))
        self._stage(1, "fetch", self.fetch)
        self._stage(2, "eval-base", lambda: self.evaluate("eval-base", None))
        self._stage(3, "mine", self.mine)
        self._stage(4, "sft", lambda: self.train("sft"))
        self._stage(5, "dpo", lambda: self.train("dpo"))
        self._stage(6, "eval-tuned", lambda: self.evaluate("eval-tuned", str(self.run / "dpo")))
        report = self._stage(7, "report", self.report)
        headline = self.headline()
        (self.run / "headline.json").write_text(json.dumps(headline, indent=2))
        console.rule("[bold]result")
        for line in headline["lines"]:
            console.print(escape(line))
        console.print(f"report: {report['report']['html']}\nmarkdown: {report['report']['md']}\n"
                      f"Hub dry run: {report['hub_dry_run']}\nthis run: {time.monotonic() - start:.0f} s "
                      f"(stages: {self.stage_times()})")
        return headline

    def stage_times(self) -> str:
        return ", ".join(f"{s} {self.done(s)['seconds']:.0f}s" for s in STAGES if self.done(s))

    def headline(self) -> dict:
        from decensor.eval.capability import capability_verdict
        from decensor.eval.metric_catalog import keys_for
        from decensor.eval.metrics import compare_records
        from decensor.eval.runner import load_records, load_results

        base = load_results(self.run / "eval-base")
        tuned = load_results(self.run / "eval-tuned")
        comparison = compare_records(load_records(base), load_records(tuned))
        lines = []
        for name in keys_for("headline"):
            if name in comparison:
                c = comparison[name]
                lines.append(f"{name:28s} {c['base']:.2f} -> {c['tuned']:.2f}  ({c['delta']:+.2f}, 95% CI "
                             f"[{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]{', significant' if c['significant'] else ''})")
        by_lang = {}
        for lang in ("en", "zh"):
            b, t = base["metrics"]["by_lang"].get(lang, {}), tuned["metrics"]["by_lang"].get(lang, {})
            by_lang[lang] = {k: (b[k]["value"], t[k]["value"]) for k in b if k in t}
            parts = [f"{k} {v[0]:.2f}->{v[1]:.2f}" for k, v in by_lang[lang].items()
                     if k in keys_for("per_language")]
            lines.append(f"[{lang}] " + ", ".join(parts))
        cap = capability_verdict(base.get("capability"), tuned.get("capability")) or {}
        if cap:
            for task, row in cap["tasks"].items():
                lines.append(f"capability {task}: {row['base']:.3f} -> {row['tuned']:.3f} "
                             f"({'REGRESSION' if row['regressed'] else 'ok'})")
        return {"comparison": comparison, "by_lang": by_lang, "capability": cap, "lines": lines}


def reset(run_dir: Path, confirm: Callable[[str], bool]) -> bool:
    """Delete a previous demo run folder, after asking."""
    if not run_dir.exists():
        return True
    if not confirm(f"Delete {run_dir} and start the demo from scratch?"):
        return False
    shutil.rmtree(run_dir)
    return True
