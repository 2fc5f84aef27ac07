"""The end-to-end demo on the real offline Qwen model, in its few-minute --quick form, and its selection rules."""

import json
import subprocess
import sys
import time
from collections import Counter

import pytest

from decensor.demo import SYSTEM_PROMPT, SYSTEMS, STAGES, DemoSettings, eval_slice, mine_prompts, round_robin, \
    training_subset
from decensor.data.topics import load_topics
from decensor.errors import UserError


def test_eval_slice_meets_every_quota_with_whole_en_zh_pairs_and_is_deterministic():
    settings = DemoSettings()
    rows, record = eval_slice(settings.eval_pairs, settings.seed)
    again, _ = eval_slice(settings.eval_pairs, settings.seed)
    assert [r["id"] for r in rows] == [r["id"] for r in again]
    topics = load_topics()
    groups = Counter(f"{r['kind']}/{topics[r['topic']].split}" for r in rows)
    assert groups == {g: 2 * n for g, n in settings.eval_pairs.items()}
    # the minimum sample: per system, >= 24 harmful per language, 80 seen / 40 unseen sensitive, 40 innocent
    langs = Counter((r["kind"], r["lang"]) for r in rows)
    assert langs[("harmful", "en")] >= 24 and langs[("harmful", "zh")] >= 24
    assert groups["sensitive/seen"] >= 80 and groups["sensitive/unseen"] >= 40
    assert groups["innocent/seen"] + groups["innocent/unseen"] >= 40
    pairs = Counter(r["pair_id"] for r in rows)
    assert set(pairs.values()) == {2} and {r["lang"] for r in rows} == {"en", "zh"}
    assert record["n_prompts"] == len(rows)
    # spread over topics: the 20 unseen sensitive pairs cover all 8 unseen sensitive topics
    assert record["groups"]["sensitive/unseen"]["topics"] == 8
    # another seed picks other pairs
    other, _ = eval_slice(settings.eval_pairs, settings.seed + 1)
    assert {r["id"] for r in other} != {r["id"] for r in rows}


def test_eval_slice_refuses_a_quota_the_suites_cannot_meet():
    with pytest.raises(UserError, match="harmful/seen"):
        eval_slice({"harmful/seen": 10_000}, 0)


def test_round_robin_takes_one_pair_per_topic_in_turn():
    pairs = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "c1": "c"}
    chosen = round_robin(pairs, 4, seed=0)
    assert Counter(pairs[p] for p in chosen) == {"a": 2, "b": 1, "c": 1}
    assert round_robin(pairs, None, seed=0) == round_robin(pairs, 99, seed=0) and len(round_robin(pairs, None, 0)) == 5


def test_training_subset_takes_whole_pairs_per_kind_with_their_dpo_rows():
    quotas = {"sensitive": 6, "innocent": 3, "harmful-refusal": 2, "mixed": 1}
    sft, dpo, record = training_subset(quotas, seed=0)
    assert training_subset(quotas, seed=0)[2] == record      # deterministic
    rows = [r for rs in sft.values() for r in rs]
    full, full_dpo, _ = training_subset(None, seed=0)
    full_rows = [r for rs in full.values() for r in rs]
    pairs_by_kind = Counter(kind for kind, _ in {(r["kind"], r["pair_id"]) for r in rows})
    assert pairs_by_kind == quotas
    sensitive_topics = {r["topic"] for r in rows if r["kind"] == "sensitive"}
    assert len(sensitive_topics) == 6   # one pair per topic in turn
    by_pair = Counter(r["pair_id"] for r in full_rows)   # every language member of a chosen pair
    assert Counter(r["pair_id"] for r in rows) == {p: by_pair[p] for p in {r["pair_id"] for r in rows}}
    ids = {r["id"] for r in rows}
    dpo_rows = [r for rs in dpo.values() for r in rs]
    assert dpo_rows and all(r["id"].split("~")[0] in ids for r in dpo_rows)
    assert {r["id"].split("~")[0] for rs in full_dpo.values() for r in rs} & ids == {r["id"].split("~")[0]
                                                                                      for r in dpo_rows}
    assert record["sft_rows"] == len(rows) and record["dpo_rows"] == len(dpo_rows)
    prompts = mine_prompts(sft, 6)
    assert len(prompts) <= 6 and all(p["messages"][0]["role"] == "user" and len(p["messages"]) == 2 for p in prompts)
    with pytest.raises(UserError, match="sft_pairs"):
        training_subset({"no-such-kind": 1}, seed=0)
    with pytest.raises(UserError, match="mixed"):
        training_subset({"mixed": 100_000}, seed=0)


def test_a_run_folder_of_other_settings_is_refused_before_any_stage(tmp_path):
    from decensor.demo import Demo

    run = tmp_path / "demo"
    run.mkdir()
    (run / "demo-settings.json").write_text(json.dumps({"eval_max_new_tokens": 128}))
    with pytest.raises(UserError, match="other settings"):
        Demo(run, quick=True).run_all()
    assert not (run / "stages").exists()


@pytest.mark.slow
def test_quick_demo_runs_four_systems_end_to_end_and_a_rerun_skips_every_stage(demo_model_dir, tmp_path):
    run_dir = tmp_path / "demo"
    cmd = [sys.executable, "-m", "decensor", "demo", "--quick", "--run-dir", str(run_dir)]
    plan = subprocess.run(cmd + ["--plan"], capture_output=True, text=True, timeout=600)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert all(stage in plan.stdout for stage in STAGES) and "total" in plan.stdout
    assert not run_dir.exists()   # the plan runs nothing

    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in STAGES:
        assert (run_dir / "stages" / f"{stage}.json").exists(), stage
    assert (run_dir / "dpo" / "adapter_model.safetensors").exists()
    # the four systems answered the same prompts; the prompted baseline with the one system prompt
    answers = {stage: [json.loads(line) for line in (run_dir / stage / "answers.jsonl").open()] for stage, *_ in SYSTEMS}
    ids = [r["id"] for r in answers["eval-base"]]
    assert ids and all([r["id"] for r in a] == ids for a in answers.values())
    prompted = json.loads((run_dir / "eval-prompted" / "results.json").read_text())
    assert prompted["generation"]["system_prompt"] == SYSTEM_PROMPT and prompted["label"] == "Base + system prompt"
    assert json.loads((run_dir / "eval-dpo" / "results.json").read_text())["adapter"]["path"].endswith("dpo")
    selection = json.loads((run_dir / "selection.json").read_text())
    assert selection["eval"]["n_prompts"] == len(ids) and selection["eval"]["rule"]
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert len(report["models"]) == 4 and report["models"][0]["label"] == "Base"
    html = (run_dir / "report" / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert SYSTEM_PROMPT in html
    card = (run_dir / "hub-dry-run" / "README.md").read_text()
    assert "Base + system prompt" in card
    headline = json.loads((run_dir / "headline.json").read_text())
    assert "harmful_refusal_rate" in headline["comparison"] and headline["vs_prompted"]

    start = time.monotonic()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("skipped") == len(STAGES)
    assert time.monotonic() - start < 120


def test_the_plan_prints_a_finished_runs_minutes_and_their_ratio_to_the_prediction():
    from decensor.demo import format_plan

    p = {"rows": [{"stage": "sft", "seconds": 600.0, "what": "train", "how": "steps"},
                  {"stage": "report", "seconds": 60.0, "what": "report", "how": "fixed"}],
         "total_s": 660.0, "total_without_fetch_s": 660.0, "budget_s": 3000, "two_core_speedup": 1.8, "measured": {}}
    assert " run " not in format_plan(p)
    half = format_plan(p, {"sft": 1260.0})
    assert "sft               10.0    21.0   2.10  train" in half and "report             1.0       -" in half
    assert "total             11.0  " in half and "  (11.0 with" in half   # no total ratio for half a run
    assert "total             11.0    22.0   2.00" in format_plan(p, {"sft": 1260.0, "report": 60.0})


@pytest.fixture(scope="module")
def demo_plan(demo_model_dir):
    """`decensor demo --plan` for today's DemoSettings (counts tokens with the real tokenizer: ~15 s, once)."""
    from decensor.demo import Demo, plan

    return plan(Demo(None).settings)


@pytest.mark.slow
def test_readme_states_the_plans_prediction(demo_plan):
    """The minutes README quotes for `decensor demo --plan` are what the plan computes today."""
    from decensor.paths import REPO_ROOT

    p = demo_plan
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`decensor demo --plan` predicts {p['total_s'] / 60:.0f} min on 2 CPU cores" in readme
    assert f"the plan predicts {p['total_s'] / 60:.1f} minutes" in readme


@pytest.mark.slow
def test_recipe_headers_state_the_demo_subset_the_plan_counts(demo_plan):
    """The SFT row and step counts in recipes/demo-cpu/sft.yaml's header and README are what the plan
    computes from DemoSettings today; the DPO steps there are the recipe's max_steps."""
    import re

    import yaml

    from decensor.paths import RECIPES_DIR

    sft = next(r for r in demo_plan["rows"] if r["stage"] == "sft")
    after, before = re.search(r"(\d+) rows after mixing .*\((\d+) before", sft["what"]).groups()
    steps = re.search(r"= (\d+) steps/epoch", sft["what"]).group(1)
    stated = f"{before} rows, {after} after mixing, {steps} steps"
    folder = RECIPES_DIR / "demo-cpu"
    header = (folder / "sft.yaml").read_text(encoding="utf-8").replace("\n#  ", "")
    readme = (folder / "README.md").read_text(encoding="utf-8").replace("\n  ", " ")
    assert stated in header and stated in readme, stated
    dpo_steps = yaml.safe_load((folder / "dpo.yaml").read_text(encoding="utf-8"))["max_steps"]
    assert f"# Time ({dpo_steps} steps)" in (folder / "dpo.yaml").read_text(encoding="utf-8")
    assert f"{dpo_steps} steps of 2 pairs" in readme
