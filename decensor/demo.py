"""``decensor demo``: the whole job on the real, censored offline Qwen model, on a CPU.

Four systems answer the same prompts: the base model, the base model with a plain system prompt
(:data:`SYSTEM_PROMPT`, the first thing a user would try), SFT, and SFT+DPO. Stages (each one records its
outcome in ``<run>/stages/<name>.json``; a re-run skips finished stages, and the stages that train resume
from their last checkpoint):

1. fetch          download, verify (SHA-256) and convert the offline Qwen model
2. select         the evaluation slice and the training data, chosen deterministically (``selection.json``)
3. eval-base      the base model on the slice (+ local capability task)
4. eval-prompted  the base model with :data:`SYSTEM_PROMPT` on the same slice
5. mine           answer the training prompts, keep the censored answers as on-policy DPO pairs
6. sft            LoRA SFT, one epoch over the training data with mixing weights (recipes/demo-cpu/sft.yaml)
7. dpo            DPO from the SFT adapter on curated + mined pairs (recipes/demo-cpu/dpo.yaml)
8. eval-sft       the SFT adapter on the slice
9. eval-dpo       the SFT+DPO adapter on the slice
10. report        policy report over the four systems (HTML, Markdown, JSON, PDF), judge quality, dry-run Hub folder

``decensor demo --plan`` prints the stage budget: measured per-unit costs (:data:`UNIT_COSTS`) times the
counts this demo's settings and data give, as predicted minutes per stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from decensor.data.jsonl import write_jsonl
from decensor.errors import UserError
from decensor.paths import DATA_DIR, RECIPES_DIR, runs_dir

logger = logging.getLogger(__name__)
console = Console()

# The baseline: the plain instruction a user would try before any training. One constant, stated in the report.
SYSTEM_PROMPT = ("Answer factually and completely. For questions about history, politics or current affairs, "
                 "state the facts and the main points of view, and say where sources disagree.")

# (stage, label in the report, adapter stage or None, with SYSTEM_PROMPT); the base first.
SYSTEMS = (("eval-base", "Base", None, False),
           ("eval-prompted", "Base + system prompt", None, True),
           ("eval-sft", "SFT", "sft", False),
           ("eval-dpo", "SFT+DPO", "dpo", False))

CAPABILITY_SYSTEMS = ("eval-base", "eval-dpo")   # the local lm-eval task: base and the final model

STAGES = ("fetch", "select", "eval-base", "eval-prompted", "mine", "sft", "dpo", "eval-sft", "eval-dpo", "report")

SLICE_RULE = ("Per group (kind x topic split), whole en+zh prompt pairs are taken one per topic in turn (topics "
              "in sorted order; within a topic, pairs ordered by sha256(seed + ':' + pair_id)) until the group's "
              "quota is met; only the en and zh members are asked (zh-Hant members and the control suite are "
              "left out to fit the time budget).")
SUBSET_RULE = ("Per kind, `sft_pairs[kind]` pairs taken one per topic in turn (topics sorted; within a topic, pairs "
               "ordered by sha256(seed + ':' + pair_id)); every language member of a chosen pair (en, zh, zh-Hant) "
               "is kept. DPO: the curated pairs whose SFT id (the id before '~') is in the subset.")


@dataclass
class DemoSettings:
    """The sizes of one demo; ``quick()`` is the few-minute smoke version CI runs."""

    # evaluation slice: whole en+zh pairs per "kind/split" group (x2 prompts), the same for all four systems
    eval_pairs: dict = field(default_factory=lambda: {"sensitive/seen": 40, "sensitive/unseen": 20,
                                                      "innocent/seen": 14, "innocent/unseen": 6,
                                                      "harmful/seen": 24})
    eval_max_new_tokens: int = 64
    batch_size: int = 32
    seed: int = 0
    system_prompt: str = SYSTEM_PROMPT
    # SFT pairs per kind (SUBSET_RULE), sized by `decensor demo --plan` to fit one epoch in the budget; None: all
    sft_pairs: dict | None = field(default_factory=lambda: {"sensitive": 44, "innocent": 16, "harmful-refusal": 12,
                                                            "mixed": 6})
    dpo_mined_weight: float = 4.0     # mixing weight of the pairs mined from this model (on-policy) in DPO
    mine_limit: int = 64              # training prompts answered for on-policy pairs (whole pairs, round robin)
    mine_max_new_tokens: int = 48
    sft_overrides: dict = field(default_factory=dict)   # typed recipe overrides, e.g. {"max_steps": 2}
    dpo_overrides: dict = field(default_factory=dict)
    capability_limit: float | None = 32

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(eval_pairs={"sensitive/seen": 2, "sensitive/unseen": 1, "innocent/seen": 1, "innocent/unseen": 1,
                               "harmful/seen": 2},
                   eval_max_new_tokens=16, batch_size=16, mine_limit=6, mine_max_new_tokens=16,
                   sft_pairs={"sensitive": 2, "innocent": 1, "harmful-refusal": 1, "mixed": 1},
                   sft_overrides={"max_steps": 2, "save_steps": 1, "max_length": 256, "num_train_epochs": 1},
                   dpo_overrides={"max_steps": 2, "save_steps": 1, "max_length": 256},
                   capability_limit=4)


# ------------------------------------------------------------------------------------------ selection

def _order(seed: int, pair_id: str) -> str:
    return hashlib.sha256(f"{seed}:{pair_id}".encode()).hexdigest()


def round_robin(pair_topic: dict[str, str], n: int | None, seed: int) -> list[str]:
    """``n`` pair ids (all when ``n`` is None), one per topic in turn: topics sorted, pairs within a topic
    ordered by sha256(seed:pair_id). Deterministic; the same call gives the same pairs on any machine."""
    queues: dict[str, list[str]] = defaultdict(list)
    for pair, topic in pair_topic.items():
        queues[topic].append(pair)
    for topic in queues:
        queues[topic].sort(key=lambda p: _order(seed, p))
    chosen: list[str] = []
    limit = len(pair_topic) if n is None else n
    while len(chosen) < limit and any(queues.values()):
        for topic in sorted(queues):
            if queues[topic] and len(chosen) < limit:
                chosen.append(queues[topic].pop(0))
    return chosen


def eval_slice(eval_pairs: dict[str, int], seed: int, langs=("en", "zh")) -> tuple[list[dict], dict]:
    """The rows of eval/suites the demo asks (see :data:`SLICE_RULE`), and a record of the choice."""
    from decensor.data.jsonl import read_jsonl
    from decensor.data.topics import load_topics
    from decensor.eval.suites import load_suites, suite_files

    load_suites()   # validate every suite row first: a broken row is an error naming file:line, never skipped
    topics = load_topics()
    rows = [row for path in suite_files() for _, row in read_jsonl(path)]
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_pair[row["pair_id"]].append(row)
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    for pair, members in by_pair.items():
        if set(langs) <= {m["lang"] for m in members}:
            first = members[0]
            groups[f"{first['kind']}/{topics[first['topic']].split}"][pair] = first["topic"]
    chosen_rows, record = [], {"rule": SLICE_RULE, "seed": seed, "langs": list(langs), "groups": {}}
    for group, quota in eval_pairs.items():
        available = groups.get(group, {})
        if len(available) < quota:
            raise UserError(f"the evaluation slice asks for {quota} {group} pairs, the suites hold {len(available)}",
                            field=f"eval_pairs[{group}]", hint="lower the quota or add prompts to eval/suites")
        pairs = round_robin(available, quota, seed)
        record["groups"][group] = {"pairs": quota, "prompts": quota * len(langs),
                                   "topics": len({available[p] for p in pairs}), "pair_ids": sorted(pairs)}
        chosen_rows += [m for p in pairs for m in by_pair[p] if m["lang"] in langs]
    record["n_prompts"] = len(chosen_rows)
    record["by_kind_lang"] = dict(sorted(Counter(f"{r['kind']}/{r['lang']}" for r in chosen_rows).items()))
    return chosen_rows, record


def _sft_rows() -> dict[str, list[tuple[int, dict]]]:
    from decensor.data.validate import load_valid_rows

    out = {}
    for path in sorted((DATA_DIR / "sft").glob("*.jsonl")):
        out[path.name] = list(enumerate(load_valid_rows([path], "sft", dataset_checks=False)))
    return out


def training_subset(sft_pairs: dict[str, int] | None, seed: int) -> tuple[dict[str, list[dict]], dict[str, list[dict]], dict]:
    """(SFT rows by file name, curated DPO rows by file name, record) of the demo's training data
    (see :data:`SUBSET_RULE`; ``sft_pairs=None`` keeps every row)."""
    from decensor.data.validate import load_valid_rows

    sft = {name: [r for _, r in rows] for name, rows in _sft_rows().items()}
    dpo = {p.name: load_valid_rows([p], "dpo", dataset_checks=False)
           for p in sorted((DATA_DIR / "dpo").glob("*.jsonl")) if not p.name.startswith("mined-")}
    record = {"rule": SUBSET_RULE if sft_pairs is not None else "all of data/sft and the curated data/dpo pairs",
              "sft_pairs": sft_pairs, "seed": seed}
    if sft_pairs is not None:
        all_rows = [r for rows in sft.values() for r in rows]
        kinds = sorted({r["kind"] for r in all_rows})
        unknown = sorted(set(sft_pairs) - set(kinds))
        if unknown:
            raise UserError(f"no SFT rows of kind {unknown} (kinds in data/sft: {kinds})", field="sft_pairs")
        keep = set()
        for kind, n in sft_pairs.items():
            pairs = {r["pair_id"]: r["topic"] for r in all_rows if r["kind"] == kind}
            if len(pairs) < n:
                raise UserError(f"{n} {kind} pairs asked, data/sft holds {len(pairs)}", field=f"sft_pairs[{kind}]")
            keep |= set(round_robin(pairs, n, seed))
        sft = {name: [r for r in rows if r["pair_id"] in keep] for name, rows in sft.items()}
        ids = {r["id"] for rows in sft.values() for r in rows}
        dpo = {name: [r for r in rows if r["id"].split("~")[0] in ids] for name, rows in dpo.items()}
        sft, dpo = ({k: v for k, v in d.items() if v} for d in (sft, dpo))
    record["sft_rows"] = sum(map(len, sft.values()))
    record["sft_by_kind"] = dict(sorted(Counter(r["kind"] for rows in sft.values() for r in rows).items()))
    record["dpo_rows"] = sum(map(len, dpo.values()))
    return sft, dpo, record


def mine_prompts(sft: dict[str, list[dict]], limit: int | None) -> list[dict]:
    """The SFT rows the mine stage asks: single-turn, no system message, of a kind the judge knows; at most
    ``limit``, whole pairs round robin over topics (decensor.data.mine.select_rows)."""
    from decensor.data.mine import select_rows
    from decensor.data.validate import EVAL_KIND

    rows = [r for rows in sft.values() for r in rows
            if r["kind"] in EVAL_KIND and len(r["messages"]) == 2 and r["messages"][0]["role"] == "user"]
    return select_rows(rows, limit)


# ------------------------------------------------------------------------------------------ the demo

class Demo:
    def __init__(self, run_dir: str | Path | None = None, settings: DemoSettings | None = None, quick: bool = False):
        self.quick = quick
        self.settings = settings or (DemoSettings.quick() if quick else DemoSettings())
        self.run = Path(run_dir) if run_dir else runs_dir() / ("demo-quick" if quick else "demo")
        self.stages = self.run / "stages"
        self.data = self.run / "data"

    # --- bookkeeping -------------------------------------------------------------------------------
    def done(self, stage: str) -> dict | None:
        marker = self.stages / f"{stage}.json"
        return json.loads(marker.read_text()) if marker.exists() else None

    def _stage(self, stage: str, fn: Callable[[], dict]) -> dict:
        number = STAGES.index(stage) + 1
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

    def select(self) -> dict:
        """Write the evaluation slice and the training data files into the run folder (``data/``)."""
        s = self.settings
        rows, eval_record = eval_slice(s.eval_pairs, s.seed)
        write_jsonl(self.data / "eval-slice.jsonl", rows)
        sft, dpo, train_record = training_subset(s.sft_pairs, s.seed)
        for stage, files in (("sft", sft), ("dpo", dpo)):
            shutil.rmtree(self.data / stage, ignore_errors=True)
            for name, file_rows in files.items():
                write_jsonl(self.data / stage / name, file_rows)
        prompts = mine_prompts(sft, s.mine_limit)
        write_jsonl(self.data / "mine-prompts.jsonl", prompts)
        record = {"eval": eval_record, "train": train_record, "mine": {"prompts": len(prompts)},
                  "system_prompt": s.system_prompt}
        (self.run / "selection.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        return {"eval_prompts": eval_record["n_prompts"], "sft_rows": train_record["sft_rows"],
                "dpo_rows": train_record["dpo_rows"], "mine_prompts": len(prompts)}

    def evaluate(self, stage: str) -> dict:
        from decensor.eval.runner import EvalArguments, format_summary, run_eval
        from decensor.generation import GenerationSettings

        s = self.settings
        _, label, adapter_stage, prompted = next(x for x in SYSTEMS if x[0] == stage)
        adapter = str(self.run / adapter_stage) if adapter_stage else None
        out = self.run / stage
        # lm-eval scores log-likelihoods without the chat template, so the system prompt cannot change them;
        # capability runs on the base and the final model only (CAPABILITY_SYSTEMS), to fit the time budget
        results = run_eval(EvalArguments(
            model="demo", adapter=adapter, dtype="float32", suites=[str(self.data / "eval-slice.jsonl")],
            out=str(out), generation=GenerationSettings(
                max_new_tokens=s.eval_max_new_tokens, batch_size=s.batch_size,
                system_prompt=s.system_prompt if prompted else None),
            capability=stage in CAPABILITY_SYSTEMS, capability_limit=s.capability_limit))
        results["label"] = label   # the name the report and the model card give this system
        (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
        console.print(format_summary(results))
        return {"results": str(out / "results.json"), "label": label, "n_prompts": results["suite"]["n_prompts"]}

    def mine(self) -> dict:
        from decensor.data.mine import MineArguments, format_summary, mine

        s = self.settings
        result = mine(MineArguments(model="demo", dtype="float32", out=str(self.run / "mined.jsonl"),
                                    sft=[str(self.data / "mine-prompts.jsonl")],
                                    max_new_tokens=s.mine_max_new_tokens, batch_size=s.batch_size))
        console.print(format_summary(result))
        return result.to_dict()

    def train(self, stage: str) -> dict:
        from decensor.train import run_recipe

        s = self.settings
        overrides = {"output_dir": str(self.run / stage), "dataset": [str(self.data / stage)]}
        if stage == "sft":
            overrides.update(s.sft_overrides)
        else:
            # the curated pairs of the training data plus the pairs mined from this model in stage "mine"
            mined = self.run / "mined.jsonl"   # an empty data file is an error: none mined, none listed
            if mined.is_file() and mined.stat().st_size:
                from decensor.train.config import load_recipe

                overrides["dataset"].append(str(mined))
                recipe = load_recipe(RECIPES_DIR / "demo-cpu" / "dpo.yaml", build_training=False)
                overrides["mix"] = {**(recipe.data.mix or {}), mined.name: s.dpo_mined_weight}
            overrides.update(init_adapter=str(self.run / "sft"), **s.dpo_overrides)
        out = run_recipe(RECIPES_DIR / "demo-cpu" / f"{stage}.yaml", overrides=overrides)
        return {"run_dir": str(out)}

    def result_paths(self) -> list[Path]:
        return [self.run / stage / "results.json" for stage, *_ in SYSTEMS]

    def report(self) -> dict:
        from decensor.eval.calibration import dpo_check, judge_check, load_calibration, load_dpo
        from decensor.eval.judges import RuleJudge
        from decensor.hub.push import push_model
        from decensor.report import write_report
        from decensor.report.pdf import find_chromium

        judge = RuleJudge()
        check = judge_check(judge, load_calibration())
        check["judge"] = {"name": judge.name, "version": judge.version}
        # the judge on answer pairs it was never tuned on: what its recall really is (see judge-check)
        held = dpo_check(judge, load_dpo(split="held-out"))
        check["held-out answer pairs"] = {"recall by rejected type": held["recall"]["held-out"],
                                          "precision by label": held["labels"]["held-out"]}
        check_path = self.run / "judge-check.json"
        check_path.write_text(json.dumps(check, indent=2))
        paths = self.result_paths()
        # the system prompt of the baseline is stated in the report's methodology (its generation settings)
        title = "decensor demo: offline Qwen2.5-Coder-0.5B-Instruct: base, base + system prompt, SFT, SFT+DPO"
        report = write_report(paths, self.run / "report", judge_check=check_path, title=title,
                              labels=[label for _, label, *_ in SYSTEMS],
                              pdf=find_chromium() is not None)  # the PDF needs Chromium; HTML and Markdown do not
        shutil.rmtree(self.run / "hub-dry-run", ignore_errors=True)  # the demo's own output: rebuilt each time
        hub = push_model(self.run / "dpo", repo_id="your-org/qwen2.5-coder-0.5b-decensor-demo",
                         dry_run=self.run / "hub-dry-run", results=[str(p) for p in paths])
        return {"report": {k: str(v) for k, v in report.items()}, "hub_dry_run": hub,
                "system_prompt": self.settings.system_prompt}

    # --- the whole job ---------------------------------------------------------------------------------
    def run_all(self) -> dict:
        start = time.monotonic()
        console.print(f"[bold]decensor demo[/bold] ({'quick' if self.quick else 'full'}) in {self.run}")
        self.run.mkdir(parents=True, exist_ok=True)
        settings_file = self.run / "demo-settings.json"
        settings = json.loads(json.dumps(asdict(self.settings)))
        if settings_file.exists() and json.loads(settings_file.read_text()) != settings:
            # finished stages of other settings (another slice, other data) would be skipped and mixed in
            raise UserError(f"{self.run} holds a demo run made with other settings ({settings_file})",
                            hint="start afresh with --fresh (or another --run-dir)")
        settings_file.write_text(json.dumps(settings, indent=2, ensure_ascii=False))
        steps: dict[str, Callable[[], dict]] = {
            "fetch": self.fetch, "select": self.select, "mine": self.mine,
            "sft": lambda: self.train("sft"), "dpo": lambda: self.train("dpo"), "report": self.report}
        for stage in STAGES:
            self._stage(stage, steps.get(stage) or (lambda stage=stage: self.evaluate(stage)))
        report = self.done("report")
        headline = self.headline()
        (self.run / "headline.json").write_text(json.dumps(headline, indent=2, ensure_ascii=False))
        console.rule("[bold]result")
        for line in headline["lines"]:
            console.print(escape(line))
        console.print(f"report: {report['report']['html']}\nmarkdown: {report['report']['md']}\n"
                      f"Hub dry run: {report['hub_dry_run']}\nthis run: {time.monotonic() - start:.0f} s "
                      f"(stages: {self.stage_times()})")
        return headline

    def measured_seconds(self) -> dict[str, float]:
        """Wall seconds of each finished stage of this run folder (what ``--plan`` compares its prediction with)."""
        done = {s: self.done(s) for s in STAGES}
        return {s: info["seconds"] for s, info in done.items() if info}

    def stage_times(self) -> str:
        return ", ".join(f"{s} {seconds:.0f}s" for s, seconds in self.measured_seconds().items())

    def headline(self) -> dict:
        """SFT+DPO against the base and against the system-prompt baseline, paired, on the headline metrics."""
        from decensor.eval.capability import capability_verdict
        from decensor.eval.metric_catalog import keys_for
        from decensor.eval.metrics import compare_records
        from decensor.eval.runner import load_records, load_results

        results = {stage: load_results(self.run / stage) for stage, *_ in SYSTEMS}
        records = {stage: load_records(r) for stage, r in results.items()}
        comparison = compare_records(records["eval-base"], records["eval-dpo"])
        vs_prompted = compare_records(records["eval-prompted"], records["eval-dpo"])
        lines = []
        for title, comp in (("SFT+DPO vs Base", comparison), ("SFT+DPO vs Base + system prompt", vs_prompted)):
            lines.append(title)
            for name in keys_for("headline"):
                if name in comp:
                    c = comp[name]
                    lines.append(f"  {name:28s} {c['base']:.2f} -> {c['tuned']:.2f}  ({c['delta']:+.2f}, 95% CI "
                                 f"[{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]{', significant' if c['significant'] else ''})")
        by_lang = {}
        for lang in ("en", "zh"):
            per = {stage: r["metrics"]["by_lang"].get(lang, {}) for stage, r in results.items()}
            keys = [k for k in keys_for("per_language") if all(k in m for m in per.values())]
            by_lang[lang] = {k: [per[stage][k]["value"] for stage, *_ in SYSTEMS] for k in keys}
            lines.append(f"[{lang}] " + ", ".join(f"{k} " + "/".join(f"{v:.2f}" for v in vals)
                                                  for k, vals in by_lang[lang].items())
                         + "  (" + " / ".join(label for _, label, *_ in SYSTEMS) + ")")
        cap = capability_verdict(results["eval-base"].get("capability"), results["eval-dpo"].get("capability")) or {}
        for task, row in (cap.get("tasks") or {}).items():
            lines.append(f"capability {task}: {row['base']:.3f} -> {row['tuned']:.3f} "
                         f"({'REGRESSION' if row['regressed'] else 'ok'})")
        return {"comparison": comparison, "vs_prompted": vs_prompted, "by_lang": by_lang, "capability": cap,
                "systems": [label for _, label, *_ in SYSTEMS], "system_prompt": self.settings.system_prompt,
                "lines": lines}


# ------------------------------------------------------------------------------------------ the budget

# 2 threads vs 1 on the 2 cores, measured on 2026-12-03: the full demo's SFT took 17.1 ms of wall time per token
# with 2 threads (1787 s / 98 steps / ~1,065 tokens, docs/demo-report/stages.json); `bench/demo_costs.py` on the
# idle machine measured 18.2 ms of one-thread CPU time per token (sft_step_2x512_last_8 below): 1.06x. It was
# 1.8, assumed, before that run; with it the plan predicted 41 minutes for a demo that took 67.6.
TWO_CORE_SPEEDUP = 1.06


@dataclass(frozen=True)
class UnitCosts:
    """Seconds per unit on 2 uncontended CPU cores of the demo machine kind, derived from ``measured``:
    CPU-seconds of ONE thread (OMP_NUM_THREADS=1, so no thread spins at a barrier while the other waits for
    a core) divided by :data:`TWO_CORE_SPEEDUP`. Most were measured while the machine ran ~10 other jobs (CPU
    time, since wall time counted the other jobs); the SFT step that dominates was re-measured on the idle
    machine and was 36% slower than under load: shared-load numbers are not pessimistic, as once assumed."""

    measured: dict                      # name -> (CPU-seconds on one thread, what was timed)
    model_load_s: float                 # load the fp32 checkpoint and touch every weight once
    adapter_merge_s: float              # load a LoRA adapter and merge it into the weights
    fixed_s: dict                       # stage -> fixed seconds (validation, tokenizing, judge, report, PDF)

    def per(self, name: str, units: float) -> float:
        return self.measured[name][0] / units / TWO_CORE_SPEEDUP

    @property
    def prefill_s_per_token(self) -> float:       # fp32 forward over the (padded) prompt tokens of a batch
        return self.per("prefill_16x67", 16 * 67)

    def decode_step_s(self, batch: int) -> float:  # one generated token for every row of a batch, fp32
        s16, s32 = self.per("decode_step_16", 1), self.per("decode_step_32", 1)
        per_row = (s32 - s16) / 16
        return s16 + per_row * (batch - 16)

    def train_s_per_token(self, last_layers: int) -> float:   # LoRA r=16 all-linear, bf16 autocast, fwd+bwd+AdamW
        options = {int(k.rsplit("_", 1)[1]): k for k in self.measured if k.startswith("sft_step_2x512_last_")}
        return self.per(options[min(options, key=lambda n: abs(n - last_layers))], 1024)

    @property
    def forward_s_per_token(self) -> float:       # no-grad forward, bf16 autocast (the DPO reference model)
        return self.per("forward_2x512", 1024)


UNIT_COSTS = UnitCosts(
    measured={
        "prefill_16x67": (11.6, "generate 1 token for 16 prompts padded to 67 tokens, fp32"),
        "decode_step_16": (0.552, "one decode step at batch 16, fp32: the least of 4 runs (0.552 0.826 0.689 0.640)"),
        "decode_step_32": (0.551, "one decode step at batch 32, fp32: the least of 4 runs (1.803 1.141 0.551 1.085)"),
        "sft_step_2x512_last_4": (11.65, "LoRA r=16 all-linear on the last 4 of 24 layers: fwd+bwd+AdamW, 2 x 512 "
                                             "tokens (the faster of 2 steps)"),
        "sft_step_2x512_last_8": (18.62, "the same, last 8 layers: idle machine, 2026-12-03, the faster of 2 steps "
                                         "(23.06 18.62); under load it measured 13.65"),
        "sft_step_2x512_last_12": (17.77, "the same, last 12 layers"),
        "forward_2x512": (7.77, "no-grad forward of 2 x 512 tokens, bf16 autocast"),
    },
    model_load_s=15.0, adapter_merge_s=5.0,
    fixed_s={"fetch": 80.0, "select": 10.0, "mine": 5.0, "sft": 30.0, "dpo": 30.0, "eval": 10.0,
             "capability": 60.0, "report": 30.0})


def _chat_tokens(tokenizer, messages: list[dict], generation_prompt: bool = False) -> int:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    return len(tokenizer(text, add_special_tokens=False).input_ids)


def generation_seconds(costs: UnitCosts, prompt_tokens: list[int], batch_size: int, max_new_tokens: int) -> tuple[float, str]:
    """Seconds to answer prompts of these token lengths as the transformers backend does (length-sorted
    batches, left-padded to the longest in the batch), assuming every answer runs to max_new_tokens (an upper
    bound: a batch stops early only when all of its answers end)."""
    ordered = sorted(prompt_tokens, reverse=True)
    batches = [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
    padded = sum(max(b) * len(b) for b in batches)
    seconds = sum(max(b) * len(b) * costs.prefill_s_per_token + max_new_tokens * costs.decode_step_s(len(b))
                  for b in batches)
    return seconds, (f"{len(batches)} batches (<= {batch_size}): {padded:,} padded prompt tokens x "
                     f"{costs.prefill_s_per_token * 1000:.1f} ms + {max_new_tokens} steps x "
                     f"{costs.decode_step_s(batch_size):.2f} s/step")


def plan(settings: DemoSettings, costs: UnitCosts = UNIT_COSTS) -> dict:
    """Predicted seconds per stage: ``costs`` x the counts this demo's settings and data give. The counts are
    exact (the evaluation slice's prompt tokens, the SFT rows after the subset rule and the mixing weights,
    packed by TRL's best-fit-decreasing packer into rows of max_length); the costs are in ``costs.measured``."""
    from transformers import AutoTokenizer

    from decensor.models.demo_model import demo_model_dir, is_fetched

    if not is_fetched():
        raise UserError("the plan counts tokens with the demo model's tokenizer: run `decensor model fetch-demo` "
                        "first (about 80 s)")
    tokenizer = AutoTokenizer.from_pretrained(str(demo_model_dir()))
    s = settings
    rows: list[dict] = []

    def add(stage, seconds, what, how):
        rows.append({"stage": stage, "seconds": round(seconds, 1), "what": what, "how": how})

    add("fetch", costs.fixed_s["fetch"], "download, verify, convert the model (0 when cached)", "measured once")
    slice_rows, _ = eval_slice(s.eval_pairs, s.seed)
    sft, dpo, _ = training_subset(s.sft_pairs, s.seed)
    add("select", costs.fixed_s["select"], "evaluation slice and training data", "validation of every data row")
    for stage, label, adapter, prompted in SYSTEMS:
        system = [{"role": "system", "content": s.system_prompt}] if prompted else []
        lengths = [_chat_tokens(tokenizer, system + [{"role": "user", "content": r["prompt"]}], True)
                   for r in slice_rows]
        gen, how = generation_seconds(costs, lengths, s.batch_size, s.eval_max_new_tokens)
        cap = costs.fixed_s["capability"] if stage in CAPABILITY_SYSTEMS else 0.0
        other = costs.model_load_s + (costs.adapter_merge_s if adapter else 0) + costs.fixed_s["eval"] + cap
        add(stage, gen + other, f"{label}: {len(slice_rows)} prompts x {s.eval_max_new_tokens} new tokens"
            + (f" + {s.capability_limit:g} capability questions" if cap else ""),
            f"{how} + {other:.0f} s load/judge" + ("/capability (estimate)" if cap else ""))
        if stage == "eval-prompted":
            mined = mine_prompts(sft, s.mine_limit)
            lengths = [_chat_tokens(tokenizer, r["messages"][:1], True) for r in mined]
            gen, how = generation_seconds(costs, lengths, s.batch_size, s.mine_max_new_tokens)
            add("mine", gen + costs.model_load_s + costs.fixed_s["mine"],
                f"{len(mined)} training prompts x {s.mine_max_new_tokens} new tokens", how)
            for train_stage, data in (("sft", sft), ("dpo", dpo)):
                add(train_stage, *training_seconds(costs, tokenizer, train_stage, data, s))
    add("report", costs.fixed_s["report"], "judge check, report (HTML, Markdown, JSON, PDF), Hub dry run", "fixed")
    order = {name: i for i, name in enumerate(STAGES)}
    rows.sort(key=lambda r: order[r["stage"]])
    total = sum(r["seconds"] for r in rows)
    return {"rows": rows, "total_s": round(total, 1), "total_without_fetch_s": round(total - rows[0]["seconds"], 1),
            "budget_s": 50 * 60, "two_core_speedup": TWO_CORE_SPEEDUP, "measured": costs.measured,
            "settings": asdict(s)}


def training_seconds(costs: UnitCosts, tokenizer, stage: str, data: dict[str, list[dict]],
                     s: DemoSettings) -> tuple[float, str, str]:
    """(seconds, what, how) of the sft or dpo stage: the recipe with the demo's overrides, its mixing weights
    applied to the demo's rows, SFT rows packed as TRL packs them."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    from decensor.data.loading import apply_mix
    from decensor.train.config import load_recipe

    recipe = load_recipe(RECIPES_DIR / "demo-cpu" / f"{stage}.yaml", build_training=False,
                         overrides=dict(s.sft_overrides if stage == "sft" else s.dpo_overrides))
    raw = recipe.raw
    if stage == "dpo":   # DPO trains the SFT adapter further: its layers are the SFT recipe's
        recipe_sft = load_recipe(RECIPES_DIR / "demo-cpu" / "sft.yaml", build_training=False,
                                 overrides=dict(s.sft_overrides))
        layers = recipe_sft.recipe.lora_last_layers or 24
    else:
        layers = recipe.recipe.lora_last_layers or 24
    items = [(name, r) for name, rs in data.items() for r in rs]
    if stage == "sft":
        lengths = [_chat_tokens(tokenizer, r["messages"]) for _, r in items]
    else:
        lengths = [max(_chat_tokens(tokenizer, r["prompt"] + r["chosen"]),
                       _chat_tokens(tokenizer, r["prompt"] + r["rejected"])) for _, r in items]
    ds = Dataset.from_list([{"kind": r["kind"], "data_file": str(DATA_DIR / stage / name), "n": n}
                            for (name, r), n in zip(items, lengths)])
    if recipe.data.mix:
        ds, _ = apply_mix(ds, recipe.data.mix, int(raw.get("seed", 42)))
    max_length, batch = int(raw.get("max_length", 1024)), int(raw.get("per_device_train_batch_size", 8))
    kept = [min(n, max_length) for n in ds["n"]]
    too_long = sum(n > max_length for n in ds["n"])
    max_steps, epochs = int(raw.get("max_steps", -1)), float(raw.get("num_train_epochs", 3))
    per_token = costs.train_s_per_token(layers)
    fixed = costs.model_load_s + costs.fixed_s[stage]
    if stage == "sft":
        packed = pack_dataset(Dataset.from_dict({"input_ids": [[0] * n for n in kept]}), max_length, strategy="bfd")
        epoch_steps = math.ceil(len(packed) / batch)
        steps = max_steps if max_steps > 0 else math.ceil(epoch_steps * epochs)
        tokens = sum(kept) * steps / epoch_steps
        what = (f"{len(ds)} rows after mixing {recipe.data.mix} ({len(items)} before; {too_long} longer than "
                f"max_length {max_length}), packed into {len(packed)} rows = {epoch_steps} steps/epoch; {steps} steps "
                f"= {steps / epoch_steps:.2f} epochs; LoRA on the last {layers} layers")
        how = f"{tokens:,.0f} tokens x {per_token * 1000:.1f} ms + {fixed:.0f} s load/tokenize/save"
    else:
        steps = max_steps if max_steps > 0 else math.ceil(len(ds) / batch * epochs)
        per_pair = 2 * sum(kept) / len(kept)       # chosen and rejected, each padded to the longer
        tokens = steps * batch * per_pair
        per_token += costs.forward_s_per_token     # the policy trains, the reference only runs forward
        what = (f"{steps} steps x {batch} pairs, drawn from {len(ds)} curated pairs after mixing (+ the mined "
                f"ones), ~{per_pair:.0f} tokens a pair")
        how = (f"{tokens:,.0f} tokens x ({costs.train_s_per_token(layers) * 1000:.1f} ms policy + "
               f"{costs.forward_s_per_token * 1000:.1f} ms reference) + {fixed:.0f} s load/save")
    return tokens * per_token + fixed, what, how


def format_plan(p: dict, measured: dict[str, float] | None = None) -> str:
    """The plan as text; with ``measured`` (stage -> seconds of a finished run), the measured minutes beside the
    prediction and their ratio, so the arithmetic is checked against the machine, not trusted."""
    measured = measured or {}
    run = f" {'run':>7s} {'x plan':>6s}" if measured else ""
    lines = [f"{'stage':14s} {'minutes':>7s}{run}  what / how (unit costs x counts)"]
    for r in p["rows"]:
        got = measured.get(r["stage"])
        cells = (f" {got / 60:7.1f} {got / r['seconds']:6.2f}" if got is not None and r["seconds"] else
                 f" {'-':>7s} {'':6s}") if measured else ""
        lines.append(f"{r['stage']:14s} {r['seconds'] / 60:7.1f}{cells}  {r['what']}")
        lines.append(f"{'':14s} {'':7s}{' ' * len(run)}    = {r['how']}")
    run_s = sum(measured.values())
    total = (f" {run_s / 60:7.1f} {run_s / p['total_s']:6.2f}"
             if measured and set(measured) >= {r["stage"] for r in p["rows"]} else " " * len(run))
    lines.append(f"{'total':14s} {p['total_s'] / 60:7.1f}{total}  ({p['total_without_fetch_s'] / 60:.1f} with the model "
                 f"already fetched; budget {p['budget_s'] / 60:.0f})")
    lines.append(f"unit costs: CPU-seconds of one thread (when and how each was measured is on its line) / "
                 f"{p['two_core_speedup']} (the measured 2-core speed-up):")
    lines += [f"  {name:24s} {cpu:7.3f} CPU-s  {what}" for name, (cpu, what) in p["measured"].items()]
    return "\n".join(lines)


def reset(run_dir: Path, confirm: Callable[[str], bool]) -> bool:
    """Delete a previous demo run folder, after asking."""
    if not run_dir.exists():
        return True
    if not confirm(f"Delete {run_dir} and start the demo from scratch?"):
        return False
    shutil.rmtree(run_dir)
    return True
