#!/usr/bin/env python3
"""Draw the stratified random sample of SFT rows for the second review (standard library only).

Reproducible: the rows are read from a pinned git commit (not the working tree, which other writers
keep editing) and drawn with a fixed seed. Run from the repository root:

    python3 data/review/sample.py                 # prints the sample as JSON Lines
    python3 data/review/sample.py --commit HEAD   # draw from another commit

Design (see data/review/README.md):
- strata = kind x lang x single/multi-turn, with fixed quotas per cell (QUOTAS below);
- inside a cell, rows are shuffled with random.Random(SEED) and taken greedily, preferring a topic not yet
  in the sample and never taking two rows of the same pair_id (so each row is an independent draw; the
  reviewer still reads the other members of the pair to check that they say the same thing);
- cells are filled in the fixed order of QUOTAS, so the draw depends only on SEED and the commit.
"""
import argparse
import hashlib
import json
import random
import subprocess
import sys

SEED = 20261203
COMMIT = "4ac89a3dcfab02bd8c2246c0f3ef585b747e4c65"  # HEAD of main when the sample was drawn (2026-12-03 08:0x UTC)

# (kind, lang, multi_turn) -> number of rows
QUOTAS = [
    (("sensitive", "en", True), 5),
    (("sensitive", "zh", True), 5),
    (("sensitive", "zh-Hant", True), 3),
    (("sensitive", "en", False), 15),
    (("sensitive", "zh", False), 15),
    (("sensitive", "zh-Hant", False), 7),
    (("mixed", "en", True), 1),
    (("mixed", "zh", True), 1),
    (("mixed", "en", False), 3),
    (("mixed", "zh", False), 3),
    (("mixed", "zh-Hant", False), 2),
    (("harmful-refusal", "en", True), 1),
    (("harmful-refusal", "zh", True), 1),
    (("harmful-refusal", "en", False), 3),
    (("harmful-refusal", "zh", False), 3),
    (("harmful-refusal", "zh-Hant", False), 2),
    (("innocent", "en", False), 5),
    (("innocent", "zh", False), 5),
]


def git(*args):
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def load_rows(commit):
    files = sorted(p for p in git("ls-tree", "--name-only", commit, "data/sft/").split("\n")
                   if p.endswith(".jsonl"))
    rows = []
    for path in files:
        text = git("show", f"{commit}:{path}")
        for line_no, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            row = json.loads(line)
            multi = sum(m["role"] == "assistant" for m in row["messages"]) > 1
            rows.append({"row": row, "file": path, "line": line_no, "multi": multi,
                         "sha1": hashlib.sha1(line.encode("utf-8")).hexdigest()[:12]})
    return rows


def draw(rows, seed):
    rng = random.Random(seed)
    picked, topics, pairs = [], set(), set()
    for (kind, lang, multi), n in QUOTAS:
        cell = [r for r in rows if (r["row"]["kind"], r["row"]["lang"], r["multi"]) == (kind, lang, multi)]
        cell.sort(key=lambda r: (r["file"], r["line"]))
        rng.shuffle(cell)
        if len(cell) < n:
            sys.exit(f"cell {(kind, lang, multi)} has {len(cell)} rows, quota {n}")
        taken = []
        for prefer_new_topic in (True, False):
            for r in cell:
                if len(taken) == n:
                    break
                if r in taken or r["row"]["pair_id"] in pairs:
                    continue
                if prefer_new_topic and r["row"]["topic"] in topics:
                    continue
                taken.append(r)
                pairs.add(r["row"]["pair_id"])
                topics.add(r["row"]["topic"])
        if len(taken) < n:
            sys.exit(f"cell {(kind, lang, multi)}: only {len(taken)} rows of distinct pairs, quota {n}")
        picked.extend(taken)
    return picked


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commit", default=COMMIT)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    for r in draw(load_rows(args.commit), args.seed):
        row = r["row"]
        print(json.dumps({"id": row["id"], "file": r["file"], "line": r["line"], "kind": row["kind"],
                          "lang": row["lang"], "topic": row["topic"], "multi_turn": r["multi"],
                          "first_reviewer": row.get("reviewer"), "row_sha1": r["sha1"]},
                         ensure_ascii=False))


if __name__ == "__main__":
    main()
