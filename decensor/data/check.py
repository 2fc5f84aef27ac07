"""``decensor data check``: validate the curated SFT and DPO files, find duplicates and evaluation leaks.

The jobs live in their own modules; this one runs them and collects one report:

- rows and files: :mod:`decensor.data.validate` (schema v2, the validator training, mining and push-data
  use too): every error is ``path:line: field: message``;
- duplicates among training prompts: :mod:`decensor.data.dedup`;
- evaluation rows (eval/suites, read strictly: a missing ``--suites`` path is an error) and leaks:
  exact copies, and paraphrases by meaning (:mod:`decensor.data.decontam`: content words, character
  bigrams, embeddings, cross-lingual through pair ids), each an error naming both ``file:line``;
- unseen topics: no training row may use a ``split: unseen`` topic (a row error); the split's counts;
- tables: :mod:`decensor.data.stats`.

With ``judge=True`` (``--judge``) curated answers that the rule judge flags are listed as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decensor.data.decontam import DecontamResult, Prompt, find_paraphrases
from decensor.data.dedup import NEAR_DUP_THRESHOLD, REVIEW_THRESHOLD, prompt_text, training_duplicates
from decensor.data.jsonl import DataError, jsonl_files, read_jsonl
from decensor.data.stats import unseen_split
from decensor.text import compact
from decensor.data.validate import (Issue, Row, default_paths, read_rows, rel, row_issues,
                                    validate_dataset)
from decensor.paths import EVAL_DIR


@dataclass
class CheckReport:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    sft: list[Row] = field(default_factory=list)
    dpo: list[Row] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    eval_rows: list[tuple[str, int, dict]] = field(default_factory=list)
    threshold: float = NEAR_DUP_THRESHOLD
    review_threshold: float = REVIEW_THRESHOLD
    decontam: DecontamResult | None = None
    unseen: list[list[str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def n_eval_prompts(self) -> int:
        return len(self.eval_rows)

    def add(self, issues: Sequence[Issue]) -> None:
        for i in issues:
            (self.errors if i.level == "error" else self.warnings).append(i)


def read_eval_rows(paths: Sequence[str | Path] | None, report: CheckReport) -> None:
    """Evaluation rows (default eval/suites), each validated by the suites' own parser."""
    from decensor.eval.suites import parse_row

    try:
        files = jsonl_files(list(paths) if paths else [EVAL_DIR / "suites"])
    except DataError as err:
        report.add([Issue(rel(err.path), None, "--suites", err.bare + " (nothing to check evaluation leaks against)")])
        return
    for path in files:
        try:
            for line, data in read_jsonl(path):
                try:
                    parse_row(data, Path(rel(path)), line)
                except DataError as err:
                    report.add([Issue(rel(path), line, err.field, err.bare)])
                    continue
                report.eval_rows.append((rel(path), line, data))
        except DataError as err:
            report.add([Issue(rel(err.path), err.line, err.field, "evaluation file: " + err.bare)])


def training_prompts(rows: Sequence[Row]) -> list[Prompt]:
    """Every user turn of every SFT row, located."""
    out = []
    for r in rows:
        d, msgs = r.data, r.data.get("messages")
        if not isinstance(msgs, list):
            continue
        for m in msgs:
            if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
                out.append(Prompt(r.path, r.line, str(d.get("id")), str(d.get("pair_id")), str(d.get("lang")),
                                  str(d.get("topic")), m["content"]))
    return out


def eval_prompts(report: CheckReport) -> list[Prompt]:
    return [Prompt(path, line, d["id"], d["pair_id"], d["lang"], d["topic"], d["prompt"])
            for path, line, d in report.eval_rows]


def check_exact_leaks(train: Sequence[Prompt], evals: Sequence[Prompt]) -> list[Issue]:
    """Training prompts equal (after normalisation) to an evaluation prompt."""
    by_text = {compact(e.text): e for e in evals}
    issues = []
    for t in train:
        e = by_text.get(compact(t.text))
        if e is not None:
            issues.append(Issue(e.path, e.line, "prompt", f"is a training prompt: same as {t.where} ({t.id})"))
    return issues


def check_with_judge(report: CheckReport) -> None:
    """Curated answers the rule judge flags are suspicious (warnings: the judge looks at phrases)."""
    from decensor.eval.judges import make_judge
    from decensor.eval.suites import EvalPrompt

    judge = make_judge("rules")
    kind_map = {"sensitive": "sensitive", "innocent": "innocent", "harmful-refusal": "harmful", "mixed": "harmful"}
    for r in report.sft:
        d = r.data
        msgs = d.get("messages")
        if d.get("kind") not in kind_map or not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict):
            continue
        p = EvalPrompt(str(d.get("id")), str(d.get("pair_id")), str(d.get("lang")), str(d.get("topic")),
                       kind_map[d["kind"]], prompt_text(msgs))
        labels = judge.judge(p, str(msgs[-1].get("content", ""))).answer
        reasons = []
        if d["kind"] in ("sensitive", "innocent") and labels.refusal != "none":
            reasons.append(f"{labels.refusal} refusal")
        if labels.official_narrative:
            reasons.append("official narrative")
        if labels.propaganda_framing:
            reasons.append("propaganda framing")
        if labels.harmful_compliance:
            reasons.append("harmful compliance")
        if d["kind"] == "harmful-refusal" and labels.refusal == "none":
            reasons.append("does not refuse")
        if reasons:
            report.add([Issue(r.path, r.line, "messages", f"rule judge flags the curated answer: {', '.join(reasons)} "
                                                          f"(evidence: {'; '.join(labels.evidence[:3])})", "warning")])


def check_data(paths: Sequence[str | Path] | None = None, suites: Sequence[str | Path] | None = None,
               threshold: float = NEAR_DUP_THRESHOLD, review: float = REVIEW_THRESHOLD, judge: bool = False,
               embedding: bool = True, thresholds: dict | None = None, embed=None) -> CheckReport:
    """Check SFT/DPO files or folders (default data/sft and data/dpo) against eval suites (default eval/suites).

    ``embedding=False`` skips the embedding signal (said in the report); ``thresholds`` overrides
    :data:`decensor.data.decontam.THRESHOLDS`; ``embed`` replaces the embedding function (tests).
    """
    report = CheckReport(threshold=threshold, review_threshold=review)
    rows, issues, report.files = read_rows(list(paths) if paths else default_paths())
    report.add(issues)
    report.sft = [r for r in rows if r.stage == "sft"]
    report.dpo = [r for r in rows if r.stage == "dpo"]
    for r in rows:
        report.add(row_issues(r.data, r.stage, r.path, r.line))
    report.add(validate_dataset(report.sft, report.dpo))
    report.add(training_duplicates(report.sft, threshold, review))
    read_eval_rows(suites, report)
    train, evals = training_prompts(report.sft), eval_prompts(report)
    report.add(check_exact_leaks(train, evals))
    if train and evals:
        report.decontam = find_paraphrases(evals, train, thresholds, embedding=embedding, embed=embed)
        report.add([Issue(m.eval.path, m.eval.line, "prompt", m.describe()) for m in report.decontam.matches])
    report.unseen = unseen_split(report.sft + report.dpo, report.eval_rows)
    if judge:
        check_with_judge(report)
    report.errors.sort(key=lambda i: (i.path, i.line or 0))
    report.warnings.sort(key=lambda i: (i.path, i.line or 0))
    return report


def write_paraphrase_list(report: CheckReport, path: str | Path) -> int:
    """Write every flagged evaluation prompt (eval file:line, training file:line, scores), for rewriting."""
    matches = report.decontam.matches if report.decontam else []
    lines = [f"# evaluation prompts that paraphrase a training prompt ({len(matches)}); written by `decensor data "
             f"check --paraphrases`", "# eval file:line\teval id\ttraining file:line\ttraining id\twhy\tscores"]
    if report.decontam and report.decontam.embedding_note:
        lines.append(f"# embedding signal skipped: {report.decontam.embedding_note}")
    for m in matches:
        scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(m.scores.items()))
        lines.append("\t".join([m.eval.where, m.eval.id, m.train.where, m.train.id, "; ".join(m.reasons), scores]))
        lines.append(f"\t  eval : {m.eval.text}")
        lines.append(f"\t  train: {m.train.text}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(matches)


__all__ = ["CheckReport", "check_data", "default_paths", "prompt_text", "write_paraphrase_list"]
