"""README's demo section states what the committed demo report measured: the four-way table (from
docs/demo-report/report.json, and SFT+DPO against the system-prompt baseline from headline.json), the
seen/unseen and per-language rows and the stage times (docs/demo-report/stages.json) are rebuilt here."""

import json

from decensor.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
DOCS = REPO_ROOT / "docs" / "demo-report"
REPORT = json.loads((DOCS / "report.json").read_text(encoding="utf-8"))
HEADLINE = json.loads((DOCS / "headline.json").read_text(encoding="utf-8"))
STAGES = json.loads((DOCS / "stages.json").read_text(encoding="utf-8"))
ROWS = ("answered_correctly_rate", "refusal_rate", "official_narrative_rate", "fact_coverage", "false_claim_rate",
        "degenerate_rate", "innocent_over_refusal_rate", "propaganda_leak_rate", "harmful_refusal_rate")


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def delta(d: dict) -> str:
    return f"{100 * d['delta']:+.0f} pts [{100 * d['ci_low']:+.0f}, {100 * d['ci_high']:+.0f}]"


def four_way_rows(report: dict, vs_prompted: dict) -> list[str]:
    by_key = {r["key"]: r for r in report["systems"]}
    lines = []
    for key in ROWS:
        r = by_key[key]
        values = " | ".join(pct(c["value"]["value"]) for c in r["cells"])
        lines.append(f"| {r['title']} | {values} | {delta(r['cells'][-1]['vs_base'])} | "
                     f"{delta(vs_prompted[key]) if key in vs_prompted else '-'} |")
    return lines


def part_rows(report: dict, section: str, field: str) -> list[str]:
    lines = []
    for r in report[section]["rows"]:
        if r["key"] not in ("refusal_rate", "harmful_refusal_rate", "answered_correctly_rate"):
            continue
        for i, part in enumerate(r["cells"][0][field]):
            name = part.get("split") or part.get("lang")
            cells = [c[field][i]["value"]["value"] for c in r["cells"]]
            lines.append(f"| {r['title']}, {name} | " + " | ".join(pct(v) for v in cells)
                         + f" | {delta(r['cells'][-1][field][i]['vs_base'])} |")
    return lines


def test_the_four_way_table_is_the_committed_reports():
    for line in four_way_rows(REPORT, HEADLINE["vs_prompted"]):
        assert line in README, line


def test_seen_unseen_and_language_rows_are_the_committed_reports():
    for line in part_rows(REPORT, "splits", "splits") + part_rows(REPORT, "languages", "langs"):
        assert line in README, line


def stage_rows(stages: dict) -> list[str]:
    total = sum(s["seconds"] for s in stages.values())
    return [f"| {name} | {s['seconds']:.0f} s |" for name, s in stages.items()] + [f"| **total** | **{total:.0f} s "
                                                                                   f"({total / 60:.1f} min)** |"]


def test_stage_times_are_the_measured_runs():
    for line in stage_rows(STAGES):
        assert line in README, line


def test_recipe_step_hints_are_the_committed_runs_stage_times():
    """seconds_per_step_hint in the demo recipes is the committed run's stage time over its steps."""
    import re

    import yaml

    for stage in ("sft", "dpo"):
        text = (REPO_ROOT / "recipes" / "demo-cpu" / f"{stage}.yaml").read_text(encoding="utf-8")
        seconds, steps = map(int, re.search(r"seconds_per_step_hint: [\d.]+ +# measured: (\d+) s / (\d+) steps", text).groups())
        assert seconds == round(STAGES[stage]["seconds"]), stage
        if stage == "dpo":
            assert steps == yaml.safe_load(text)["max_steps"]
        assert yaml.safe_load(text)["seconds_per_step_hint"] == round(seconds / steps, 1), stage
