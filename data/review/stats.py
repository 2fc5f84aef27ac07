#!/usr/bin/env python3
"""Agreement table for the double review (standard library only).

    python3 data/review/stats.py            # reads data/review/double-review.jsonl, prints Markdown

Agreement = share of sampled rows the second reviewer accepts as they are (the first reviewer shipped all
of them, i.e. accepted all). 95% intervals are Wilson score intervals.
"""
import collections
import json
import math
import pathlib
import sys

Z = 1.959963984540054  # two-sided 95%


def wilson(k, n, z=Z):
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def line(label, rows):
    n = len(rows)
    c = collections.Counter(r["verdict"] for r in rows)
    k = c["accept"]
    lo, hi = wilson(k, n)
    return (f"| {label} | {n} | {k} | {c['minor']} | {c['reject']} | {100 * k / n:.1f}% "
            f"| {100 * lo:.1f}-{100 * hi:.1f}% |")


def main():
    path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "data/review/double-review.jsonl")
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    bad = [r["id"] for r in rows if r["verdict"] not in ("accept", "minor", "reject")]
    if bad:
        sys.exit(f"{path}: unknown verdict in {bad}")
    print("| stratum | n | accept | minor | reject | agreement | 95% Wilson |")
    print("|---|---|---|---|---|---|---|")
    print(line("all", rows))
    for kind in ("sensitive", "mixed", "harmful-refusal", "innocent"):
        print(line(f"kind {kind}", [r for r in rows if r["kind"] == kind]))
    for lang in ("en", "zh", "zh-Hant"):
        print(line(f"lang {lang}", [r for r in rows if r["lang"] == lang]))
    print(line("multi-turn", [r for r in rows if r["multi_turn"]]))
    print(line("single-turn", [r for r in rows if not r["multi_turn"]]))
    print(line("rows with a recorded first reviewer", [r for r in rows if r["first_reviewer"]]))
    by_rev = collections.defaultdict(list)
    for r in rows:
        by_rev[r["first_reviewer"] or "(none recorded)"].append(r)
    for rev in sorted(by_rev):
        print(line(f"first reviewer {rev}", by_rev[rev]))


if __name__ == "__main__":
    main()
