"""Balance tables: SFT rows per kind x topic x language, DPO rows per origin x kind x rejected type, and the
unseen-topic split (evaluation prompts on topics no training row uses)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from decensor.data.topics import load_topics
from decensor.data.validate import KINDS, LANGS, Row, split_dpo_id


def balance(rows: Sequence[Row]) -> dict:
    """Counts per kind -> topic -> lang, plus totals, the innocent share and the multi-turn count."""
    topics = load_topics()
    table: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    langs: set[str] = set()
    multi_turn = 0
    for r in rows:
        d = r.data
        kind, topic, lang = str(d.get("kind")), str(d.get("topic")), str(d.get("lang"))
        table[kind][topic][lang] += 1
        langs.add(lang)
        msgs = d.get("messages")
        if isinstance(msgs, list) and sum(1 for m in msgs if isinstance(m, dict) and m.get("role") == "user") > 1:
            multi_turn += 1
    order = [k for k in KINDS if k in table] + sorted(k for k in table if k not in KINDS)
    lang_order = [lang for lang in LANGS if lang in langs] + sorted(langs - set(LANGS))
    total = sum(sum(c.values()) for t in table.values() for c in t.values())

    def share(*kinds):
        n = sum(sum(c.values()) for k in kinds for c in table.get(k, {}).values())
        return n / total if total else 0.0

    return {"kinds": order, "langs": lang_order, "table": table, "total": total,
            "innocent_share": share("innocent"), "harmful_share": share("harmful-refusal", "mixed"),
            "multi_turn": multi_turn, "topic_order": {t: i for i, t in enumerate(topics)}}


def rejected_counts(rows: Sequence[Row]) -> dict[tuple[str, str], Counter]:
    out: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        d = r.data
        tag = (split_dpo_id(d) or (None, None))[1]
        origin = "curated" if not tag or str(d.get("id", "")).count("~") else Path(r.path).name
        out[(origin, str(d.get("kind")))][f"{d.get('rejected_type')}/{d.get('lang')}"] += 1
    return out


def balance_rows(b: dict) -> list[list[str]]:
    """Table rows: kind, topic, one column per language, total (with per-kind subtotals and a grand total)."""
    rows = []
    for kind in b["kinds"]:
        topics = sorted(b["table"][kind], key=lambda t: b["topic_order"].get(t, 10**6))
        sub = Counter()
        for t in topics:
            c = b["table"][kind][t]
            sub.update(c)
            rows.append([kind, t] + [str(c.get(lang, 0)) for lang in b["langs"]] + [str(sum(c.values()))])
        rows.append([kind, f"all {len(topics)} topics"] + [str(sub.get(lang, 0)) for lang in b["langs"]]
                    + [str(sum(sub.values()))])
    grand = Counter()
    for kind in b["kinds"]:
        for c in b["table"][kind].values():
            grand.update(c)
    rows.append(["all", "all"] + [str(grand.get(lang, 0)) for lang in b["langs"]] + [str(sum(grand.values()))])
    return rows


def summary_line(b: dict) -> str:
    return (f"total {b['total']} rows; innocent share {b['innocent_share']:.1%}; harmful-refusal + mixed share "
            f"{b['harmful_share']:.1%}; multi-turn rows {b['multi_turn']}")


def unseen_split(train: Sequence[Row], eval_rows: Sequence[tuple[str, int, dict]]) -> list[list[str]]:
    """One row per unseen topic: kind, topic, evaluation prompt pairs, evaluation prompts, training rows."""
    topics = load_topics()
    pairs: dict[str, set] = defaultdict(set)
    prompts: Counter = Counter()
    for _, _, d in eval_rows:
        pairs[str(d.get("topic"))].add(d.get("pair_id"))
        prompts[str(d.get("topic"))] += 1
    trained = Counter(str(r.data.get("topic")) for r in train)
    out = []
    for t in topics.values():
        if t.split == "unseen":
            out.append([t.kind, t.id, str(len(pairs[t.id])), str(prompts[t.id]), str(trained[t.id])])
    return out


def _rich_table(title: str, head: Sequence[str], rows: Sequence[Sequence[str]], console, numeric_from: int = 2):
    from rich.table import Table

    table = Table(title=title)
    for i, col in enumerate(head):
        table.add_column(col, justify="right" if i >= numeric_from else "left")
    for r in rows:
        table.add_row(*r, style="bold" if str(r[1]).startswith("all") else None)
    console.print(table)


def _console(console):
    from rich.console import Console

    return console or Console()


def print_balance(rows: Sequence[Row], title: str = "SFT rows per topic x language x kind", console=None) -> None:
    console = _console(console)
    b = balance(rows)
    _rich_table(title, ["kind", "topic", *b["langs"], "total"], balance_rows(b), console)
    console.print(summary_line(b))


def print_rejected(rows: Sequence[Row], console=None) -> None:
    counts = rejected_counts(rows)
    if not counts:
        return
    table_rows = [[origin, kind, ", ".join(f"{k}: {v}" for k, v in sorted(c.items())), str(sum(c.values()))]
                  for (origin, kind), c in sorted(counts.items())]
    _rich_table("DPO rows per origin x kind x rejected_type/lang", ["origin", "kind", "rejected_type/lang: rows",
                                                                   "total"], table_rows, _console(console), 3)


def print_unseen(split: Sequence[Sequence[str]], console=None) -> None:
    _rich_table("Unseen topics (evaluation only)", ["kind", "topic", "eval pairs", "eval prompts", "training rows"],
                split, _console(console))


def _markdown(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 2) -> list[str]:
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * numeric_from + ["---:"] * (len(head) - numeric_from)) + "|"]
    for r in rows:
        cells = [f"**{c}**" if str(r[1]).startswith("all") else c for c in r]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_balance(rows: Sequence[Row]) -> str:
    b = balance(rows)
    lines = _markdown(["kind", "topic", *b["langs"], "total"], balance_rows(b))
    return "\n".join(lines + ["", summary_line(b).capitalize() + "."])


def markdown_rejected(rows: Sequence[Row]) -> str:
    counts = rejected_counts(rows)
    return "\n".join(_markdown(["origin", "kind", "rejected_type/lang: rows", "total"],
                               [[o, k, ", ".join(f"{x}: {v}" for x, v in sorted(c.items())), str(sum(c.values()))]
                                for (o, k), c in sorted(counts.items())], 3))


__all__ = ["balance", "balance_rows", "markdown_balance", "markdown_rejected", "print_balance", "print_rejected",
           "print_unseen", "rejected_counts", "unseen_split"]
