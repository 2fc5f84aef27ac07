"""Example answers: the prompt pairs whose labels changed most between the base and the last system."""

from __future__ import annotations

from collections import defaultdict

from decensor.report.names import KIND_ORDER, KIND_TITLES


def _flags(rec: dict) -> dict:
    a = rec["judgement"]["answer"]
    facts = a.get("facts_covered") or []
    return {"refusal": a.get("refusal", "none"), "official_narrative": bool(a.get("official_narrative")),
            "propaganda_framing": bool(a.get("propaganda_framing")),
            "harmful_compliance": bool(a.get("harmful_compliance")),
            "false_claim": bool(any(a.get("false_claims") or [])),
            "answer_class": a.get("answer_class"), "degenerate": a.get("degenerate"),
            "facts": f"{sum(facts)}/{len(facts)}" if facts else None,
            "fact_share": (sum(facts) / len(facts)) if facts else None,
            "evidence": list(a.get("evidence") or [])[:5]}


FLAG_WEIGHTS = {"official_narrative": 1.5, "propaganda_framing": 1.5, "harmful_compliance": 1.5, "false_claim": 1.5}


def _change(a: dict, b: dict) -> float:
    fa, fb = _flags(a), _flags(b)
    score = float((fa["refusal"] != "none") != (fb["refusal"] != "none")) * 2
    score += float(fa["refusal"] != fb["refusal"])
    score += sum(w * float(fa[k] != fb[k]) for k, w in FLAG_WEIGHTS.items())
    if fa["fact_share"] is not None and fb["fact_share"] is not None:
        score += abs(fa["fact_share"] - fb["fact_share"])
    return score


def _flag_score(rec: dict) -> float:
    f = _flags(rec)
    return 2 * (f["refusal"] != "none") + sum(w * f[k] for k, w in FLAG_WEIGHTS.items())


def _answer_view(rec: dict | None, max_chars: int) -> dict | None:
    if rec is None:
        return None
    text = rec.get("answer") or ""
    view = {"answer": text[:max_chars], "truncated": len(text) > max_chars, "labels": _flags(rec)}
    if rec["lang"] != "en":
        t = rec.get("answer_translation")
        view["translation"] = t if isinstance(t, str) and t.strip() else None
    return view


def select_examples(record_sets: list[list[dict]], n_pairs: int = 4, per_kind: int = 2,
                    max_chars: int = 900) -> list[dict]:
    """Prompt pairs (en + zh) whose labels changed most between the base and the last system (or, for
    a single system, that carry the most flags), at most ``per_kind`` per kind; ties broken by id."""
    base = record_sets[0]
    if not base:
        return []
    others = [{r["id"]: r for r in recs} for recs in record_sets[1:]]
    primary = others[-1] if others else None
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for r in base:
        by_pair[r["pair_id"]].append(r)
    scored = []
    for pair_id, recs in by_pair.items():
        if primary is not None:
            score = sum(_change(r, primary[r["id"]]) for r in recs if r["id"] in primary)
        else:
            score = sum(_flag_score(r) for r in recs)
        kind = recs[0]["kind"]
        kind_rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        scored.append((-score, kind_rank, pair_id, recs))
    scored.sort(key=lambda t: t[:3])
    chosen, per = [], defaultdict(int)
    for neg_score, _, pair_id, recs in scored:
        kind = recs[0]["kind"]
        if per[kind] >= per_kind:
            continue
        per[kind] += 1
        langs = sorted(recs, key=lambda r: (r["lang"] != "en", r["lang"]))
        en_prompt = next((r["prompt"] for r in recs if r["lang"] == "en"), None)
        items = [{"id": r["id"], "lang": r["lang"], "prompt": r["prompt"],
                  "prompt_en": en_prompt if r["lang"] != "en" else None,
                  "answers": [_answer_view(r, max_chars)] + [_answer_view(idx.get(r["id"]), max_chars)
                                                              for idx in others]}
                 for r in langs]
        chosen.append({"pair_id": pair_id, "kind": kind, "kind_title": KIND_TITLES.get(kind, kind),
                       "topic": recs[0]["topic"], "change_score": -neg_score, "items": items})
        if len(chosen) >= n_pairs:
            break
    return chosen
