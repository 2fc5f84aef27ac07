"""Judge quality: precision and recall of a judge per label on the hand-labelled calibration set."""

from __future__ import annotations

from pathlib import Path

from decensor.data.jsonl import DataError, read_jsonl
from decensor.eval.judges.base import REFUSAL_LEVELS, Labels
from decensor.eval.suites import EvalPrompt
from decensor.paths import EVAL_DIR

CALIBRATION_FILE = EVAL_DIR / "calibration" / "answers.jsonl"
LABELS = ("refusal", "hard_refusal", "official_narrative", "propaganda_framing", "harmful_compliance")
KIND_FOR_SUITE = {"sensitive": "sensitive", "innocent": "innocent", "harmful": "harmful", "control": "control"}


def load_calibration(path: str | Path = CALIBRATION_FILE) -> list[dict]:
    rows = []
    for line, row in read_jsonl(path):
        for name in ("id", "lang", "kind", "topic", "prompt", "answer", "labels"):
            if name not in row:
                raise DataError(path, line, "missing", field=name)
        if row["labels"].get("refusal") not in REFUSAL_LEVELS:
            raise DataError(path, line, f"must be one of {REFUSAL_LEVELS}", field="labels.refusal")
        rows.append(row)
    return rows


def _flags(labels: Labels | dict) -> dict[str, bool]:
    get = labels.get if isinstance(labels, dict) else lambda k: getattr(labels, k)
    return {"refusal": get("refusal") != "none", "hard_refusal": get("refusal") == "hard",
            "official_narrative": bool(get("official_narrative")), "propaganda_framing": bool(get("propaganda_framing")),
            "harmful_compliance": bool(get("harmful_compliance"))}


def judge_check(judge, rows: list[dict]) -> dict:
    """{label: {precision, recall, f1, tp, fp, fn, support}} plus per-origin breakdown and the misses."""
    counts = {name: {"tp": 0, "fp": 0, "fn": 0} for name in LABELS}
    by_origin: dict[str, dict] = {}
    errors = []
    for row in rows:
        prompt = EvalPrompt(row["id"], row["id"], row["lang"], row["topic"], KIND_FOR_SUITE[row["kind"]], row["prompt"])
        predicted = _flags(judge.judge(prompt, row["answer"]).answer)
        gold = _flags(row["labels"])
        origin = by_origin.setdefault(row.get("origin", "handwritten"), {n: {"tp": 0, "fp": 0, "fn": 0} for n in LABELS})
        for name in LABELS:
            outcome = "tp" if predicted[name] and gold[name] else "fp" if predicted[name] else "fn" if gold[name] else None
            if outcome:
                counts[name][outcome] += 1
                origin[name][outcome] += 1
                if outcome != "tp":
                    errors.append({"id": row["id"], "label": name, "error": outcome, "lang": row["lang"]})
    return {"n": len(rows), "labels": {n: _scores(c) for n, c in counts.items()},
            "by_origin": {o: {n: _scores(c) for n, c in cs.items()} for o, cs in by_origin.items()},
            "errors": errors}


def _scores(c: dict) -> dict:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


def format_check(name: str, result: dict) -> str:
    lines = [f"judge: {name}   calibration answers: {result['n']}",
             f"{'label':22s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    for label, s in result["labels"].items():
        lines.append(f"{label:22s} {s['precision']:9.2f} {s['recall']:7.2f} {s['f1']:6.2f} {s['support']:8d}")
    for origin, labels in result["by_origin"].items():
        parts = [f"{k} P={v['precision']:.2f}/R={v['recall']:.2f}" for k, v in labels.items() if v["support"]]
        lines.append(f"  [{origin}] " + "; ".join(parts))
    return "\n".join(lines)
