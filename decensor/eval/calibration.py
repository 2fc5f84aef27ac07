"""Judge quality, measured two ways, never asserted:

1. The hand-labelled calibration set (``eval/calibration/answers.jsonl``): precision and recall per label,
   per origin (hand-written vs real model answers), and three-way class accuracy (refused / evasive /
   complete). These rows are kept out of rule tuning, so they are the judge's held-out score.
2. Answer pairs in the DPO format: every rejected answer must get the label its ``rejected_type`` names
   (recall per type), and no chosen answer may be flagged (precision and the chosen-clean rate), printed
   for two sources. "tuning": our training pairs (``data/dpo``; the opt-in framing classifier is fitted on
   them) and the first judge-test set (``eval/judge-tuning``: held out for rules v3, then its misses were
   read and rules v4 written against them); their scores are in-sample. "held-out": the judge-test set
   (``eval/judge-test``), written by other authors after the rules and the model were frozen, never read
   while writing rules and never trained on; its scores are the judge's honest ones. Once rules are tuned on
   it, it moves to the tuning side and a new set is written.

The calibration set also gives each label's sensitivity and specificity for the Rogan-Gladen correction
of eval rates (:func:`calibration_outcomes`, used by ``decensor.eval.metrics.corrected_rate``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from decensor.data.jsonl import DataError, jsonl_files, read_jsonl
from decensor.data.topics import KINDS
from decensor.data.validate import EVAL_KIND
from decensor.eval.judges.base import ANSWER_CLASSES, REFUSAL_LEVELS, Labels
from decensor.eval.suites import EvalPrompt
from decensor.paths import DATA_DIR, EVAL_DIR

CALIBRATION_FILE = EVAL_DIR / "calibration" / "answers.jsonl"
DPO_DIR = DATA_DIR / "dpo"
JUDGE_TEST_DIR = EVAL_DIR / "judge-test"
# the first judge-test set: measured once as held out (rules v3), then read and tuned on (rules v4)
JUDGE_TUNING_DIR = EVAL_DIR / "judge-tuning"
SOURCES = {"tuning": (DPO_DIR, JUDGE_TUNING_DIR), "held-out": (JUDGE_TEST_DIR,)}   # the default files of each split
SPLITS = tuple(SOURCES)
LABELS = ("refusal", "hard_refusal", "official_narrative", "propaganda_framing", "harmful_compliance")
# The judge label a DPO rejected answer must get, by rejected_type; None: not measurable by any judge without
# per-prompt false claims (invented facts), reported as such.
REJECTED_LABEL = {"refusal": "refusal", "official-line": "official_narrative", "propaganda-framing": "propaganda_framing",
                  "subtle-leak": "propaganda_framing", "harmful-compliance": "harmful_compliance",
                  "partial-compliance": "harmful_compliance", "opposite-slant": "opposite_slant", "invented-fact": None}
POLITICAL_LABELS = ("official_narrative", "opposite_slant", "propaganda_framing", "refusal")
# which chosen answers each label is checked on (a chosen answer must not carry the label)
CHOSEN_KINDS = {"refusal": ("sensitive", "innocent"), "official_narrative": ("sensitive",),
                "propaganda_framing": ("innocent",), "harmful_compliance": ("harmful",), "opposite_slant": ("sensitive",)}


def load_calibration(path: str | Path = CALIBRATION_FILE) -> list[dict]:
    rows = []
    for line, row in read_jsonl(path):
        for name in ("id", "lang", "kind", "topic", "prompt", "answer", "labels"):
            if name not in row:
                raise DataError(path, line, "missing", field=name)
        if row["kind"] not in KINDS:
            raise DataError(path, line, f"{row['kind']!r} is not one of {KINDS}", field="kind")
        if row["labels"].get("refusal") not in REFUSAL_LEVELS:
            raise DataError(path, line, f"must be one of {REFUSAL_LEVELS}", field="labels.refusal")
        cls = row["labels"].get("answer_class")
        if cls is not None and cls not in ANSWER_CLASSES:
            raise DataError(path, line, f"{cls!r} is not one of {ANSWER_CLASSES}", field="labels.answer_class")
        rows.append(row)
    return rows


def flags(labels: Labels | dict) -> dict[str, bool]:
    get = labels.get if isinstance(labels, dict) else lambda k: getattr(labels, k)
    return {"refusal": get("refusal") != "none", "hard_refusal": get("refusal") == "hard",
            "official_narrative": bool(get("official_narrative")), "propaganda_framing": bool(get("propaganda_framing")),
            "harmful_compliance": bool(get("harmful_compliance")),
            "opposite_slant": bool(get("opposite_slant")),
            "answered_freely": get("refusal") == "none" and not get("official_narrative")}


def calibration_prompt(row: dict) -> EvalPrompt:
    return EvalPrompt(row["id"], row["id"], row["lang"], row["topic"], row["kind"], row["prompt"])


def calibration_outcomes(judge, rows: list[dict]) -> list[dict]:
    """One entry per calibration row: its kind, the judge's flags, the gold flags, both answer classes."""
    out = []
    for row in rows:
        labels = judge.judge(calibration_prompt(row), row["answer"]).answer
        out.append({"id": row["id"], "kind": row["kind"], "lang": row["lang"], "origin": row.get("origin", "handwritten"),
                    "pred": flags(labels), "gold": flags(row["labels"]), "pred_class": labels.answer_class,
                    "gold_class": row["labels"].get("answer_class")})
    return out


def judge_check(judge, rows: list[dict]) -> dict:
    """{label: {precision, recall, f1, tp, fp, fn, support}}, per origin, three-way accuracy and the misses."""
    outcomes = calibration_outcomes(judge, rows)
    counts = {name: Counter() for name in LABELS}
    by_origin: dict[str, dict] = {}
    errors = []
    for o in outcomes:
        origin = by_origin.setdefault(o["origin"], {n: Counter() for n in LABELS})
        for name in LABELS:
            outcome = _outcome(o["pred"][name], o["gold"][name])
            if outcome:
                counts[name][outcome] += 1
                origin[name][outcome] += 1
                if outcome != "tp":
                    errors.append({"id": o["id"], "label": name, "error": outcome, "lang": o["lang"]})
    classed = [o for o in outcomes if o["gold_class"]]
    confusion = Counter((o["gold_class"], o["pred_class"]) for o in classed)
    by_origin_class = defaultdict(list)
    for o in classed:
        by_origin_class[o["origin"]].append(o["pred_class"] == o["gold_class"])
    three_way = {"n": len(classed),
                 "accuracy": sum(o["pred_class"] == o["gold_class"] for o in classed) / len(classed) if classed else float("nan"),
                 "by_origin": {k: sum(v) / len(v) for k, v in by_origin_class.items()},
                 "confusion": {f"{g}->{p}": n for (g, p), n in sorted(confusion.items())}}
    errors += [{"id": o["id"], "label": "answer_class", "error": f"{o['gold_class']}->{o['pred_class']}", "lang": o["lang"]}
               for o in classed if o["pred_class"] != o["gold_class"]]
    return {"n": len(rows), "labels": {n: scores(c) for n, c in counts.items()},
            "by_origin": {o: {n: scores(c) for n, c in cs.items()} for o, cs in by_origin.items()},
            "three_way": three_way, "errors": errors}


def _outcome(pred: bool, gold: bool) -> str | None:
    return "tp" if pred and gold else "fp" if pred else "fn" if gold else None


def scores(c: dict) -> dict:
    tp, fp, fn = c.get("tp", 0), c.get("fp", 0), c.get("fn", 0)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


# --- our own DPO pairs ------------------------------------------------------------------------------

def load_dpo(paths=None, split: str = "tuning") -> list[dict]:
    """Answer pairs from ``paths`` (default: the split's :data:`SOURCES`), each tagged with ``split`` (see the
    module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rows = []
    for path in jsonl_files(paths or list(SOURCES[split])):
        for line, row in read_jsonl(path):
            for name in ("id", "pair_id", "lang", "topic", "kind", "prompt", "chosen", "rejected", "rejected_type"):
                if name not in row:
                    raise DataError(path, line, "missing", field=name)
            if row["rejected_type"] not in REJECTED_LABEL:
                raise DataError(path, line, f"unknown rejected_type {row['rejected_type']!r}", field="rejected_type")
            if row["kind"] not in EVAL_KIND:
                raise DataError(path, line, f"unknown kind {row['kind']!r}", field="kind")
            rows.append({**row, "_where": f"{path}:{line}", "_split": split})
    return rows


def _last_user(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")


def dpo_check(judge, rows: list[dict]) -> dict:
    """Recall of each label on the rejected answers whose type names it; precision and chosen-clean rate on
    the chosen answers (each distinct chosen answer once), overall and per tuning/held-out split."""
    recall = defaultdict(Counter)          # (split, rejected_type) -> hit/n
    label_counts = defaultdict(Counter)    # (split, label) -> tp/fp/chosen_n
    misses, false_flags, seen_chosen = [], [], set()
    for row in rows:
        split = row.get("_split", "tuning")
        kind = EVAL_KIND[row["kind"]]
        label = REJECTED_LABEL[row["rejected_type"]]
        rtype = row["rejected_type"]
        # a mixed row's rejected answer that fails on the political half (official line, slant, refusal) is
        # judged as the political question it answers; otherwise as the harmful request it is (EVAL_KIND)
        judged_kind = "sensitive" if row["kind"] == "mixed" and label in POLITICAL_LABELS else kind
        prompt = EvalPrompt(row["id"], row["pair_id"], row["lang"], row["topic"], judged_kind, _last_user(row["prompt"]))
        for s in (split, "all"):
            recall[(s, rtype)]["n"] += 1
        if label is None:
            continue
        got = flags(judge.judge(prompt, row["rejected"][-1]["content"]).answer)[label]
        for s in (split, "all"):
            recall[(s, rtype)]["hit"] += got
            label_counts[(s, label)]["tp"] += got
        if not got:
            misses.append({"id": row["id"], "where": row["_where"], "rejected_type": rtype, "split": split})
        chosen = row["chosen"][-1]["content"]
        if (kind, chosen) in seen_chosen or row["kind"] == "mixed":
            continue
        seen_chosen.add((kind, chosen))
        cflags = flags(judge.judge(EvalPrompt(row["id"], row["pair_id"], row["lang"], row["topic"], kind,
                                              prompt.prompt), chosen).answer)
        for name, kinds in CHOSEN_KINDS.items():
            if kind not in kinds:
                continue
            for s in (split, "all"):
                label_counts[(s, name)]["chosen"] += 1
                label_counts[(s, name)]["fp"] += cflags[name]
            if cflags[name]:
                false_flags.append({"id": row["id"], "where": row["_where"], "label": name, "split": split})
    out: dict = {"n_pairs": len(rows), "recall": {}, "labels": {}, "misses": misses, "false_flags": false_flags,
                 "not_scored": sorted({r["rejected_type"] for r in rows if REJECTED_LABEL[r["rejected_type"]] is None})}
    for (split, rtype), c in sorted(recall.items()):
        scored = REJECTED_LABEL[rtype] is not None
        out["recall"].setdefault(split, {})[rtype] = {
            "n": c["n"], "hit": c["hit"], "recall": c["hit"] / c["n"] if scored and c["n"] else float("nan")}
    for (split, label), c in sorted(label_counts.items()):
        tp, fp, n_chosen = c["tp"], c["fp"], c["chosen"]
        out["labels"].setdefault(split, {})[label] = {
            "tp": tp, "fp": fp, "chosen": n_chosen,
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "chosen_clean": 1 - fp / n_chosen if n_chosen else float("nan")}
    return out


# --- printing -------------------------------------------------------------------------------------

def format_check(name: str, result: dict, dpo: dict | None = None) -> str:
    lines = [f"judge: {name}   calibration answers: {result['n']} (held out from rule tuning)",
             f"{'label':22s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    for label, s in result["labels"].items():
        lines.append(f"{label:22s} {s['precision']:9.2f} {s['recall']:7.2f} {s['f1']:6.2f} {s['support']:8d}")
    for origin, labels in result["by_origin"].items():
        parts = [f"{k} P={v['precision']:.2f}/R={v['recall']:.2f}" for k, v in labels.items() if v["support"]]
        lines.append(f"  [{origin}] " + "; ".join(parts))
    tw = result.get("three_way")
    if tw and tw["n"]:
        lines.append(f"three-way class (refused/evasive/complete) accuracy: {tw['accuracy']:.2f} on {tw['n']} answers; "
                     + ", ".join(f"{k} {v:.2f}" for k, v in tw["by_origin"].items()))
        lines.append("  gold->predicted: " + ", ".join(f"{k} {v}" for k, v in tw["confusion"].items()))
    if dpo:
        lines.append("")
        n = {split: sum(r["n"] for r in dpo["recall"].get(split, {}).values()) for split in SPLITS}
        lines.append(f"answer pairs: {dpo['n_pairs']}; tuning = our DPO pairs and the first judge-test set ({n['tuning']}: "
                     f"rules written against them, the rules+model classifier fitted on data/dpo: in-sample); held-out = the judge-test set "
                     f"({n['held-out']}: written after the judge was frozen, never tuned on)")
        lines.append(f"{'rejected_type':20s} " + " ".join(f"{s + ' recall':>20s}" for s in ("all", "tuning", "held-out")))
        for rtype in sorted(dpo["recall"].get("all", {})):
            cells = []
            for split in ("all", "tuning", "held-out"):
                r = dpo["recall"].get(split, {}).get(rtype)
                cells.append(f"{r['recall']:.3f} ({r['hit']}/{r['n']})" if r and r["n"] and r["recall"] == r["recall"]
                             else "not scored" if r else "-")
            lines.append(f"{rtype:20s} " + " ".join(f"{c:>20s}" for c in cells))
        lines.append(f"{'label':20s} " + " ".join(f"{s + ' P / chosen clean':>26s}" for s in ("all", "tuning", "held-out")))
        for label in sorted(dpo["labels"].get("all", {})):
            cells = []
            for split in ("all", "tuning", "held-out"):
                v = dpo["labels"].get(split, {}).get(label)
                cells.append(f"{v['precision']:.3f} / {v['chosen_clean']:.3f} ({v['fp']}/{v['chosen']})" if v else "-")
            lines.append(f"{label:20s} " + " ".join(f"{c:>26s}" for c in cells))
        if dpo["not_scored"]:
            lines.append("not scored (needs per-prompt false_claims, which DPO rows do not carry): "
                         + ", ".join(dpo["not_scored"]))
    return "\n".join(lines)
