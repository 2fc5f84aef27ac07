"""The executive summary: one paragraph from the numbers (opening with the catalog's ``lead`` metric) and
what worked, what did not and what stayed unclear, for the last system against the first."""

from __future__ import annotations

from decensor.eval.metric_catalog import METRICS, METRICS_BY_KEY, pct, pts
from decensor.report.names import LANG_NAMES


def ci_text(m: dict | None) -> str:
    if not m:
        return "n/a"
    return f"95% CI {pct(m['ci_low'])}–{pct(m['ci_high'])}"


def _delta_text(c: dict) -> str:
    return f"{pts(c['delta'])}, 95% CI {pts(c['ci_low'], unit='')} to {pts(c['ci_high'], unit='')}"


def build_summary(models: list[dict], comparisons: list[dict]) -> str:
    """One plain-language paragraph computed from the numbers: the base system, the last (primary) system
    against it, and one sentence for each system in between. It opens with the catalog's ``lead`` metric
    (answered correctly) when the results hold it."""
    base = models[0]
    bm = base["metrics"]["overall"]
    parts: list[str] = []
    tuned = models[-1] if len(models) > 1 else None
    tm = tuned["metrics"]["overall"] if tuned else {}
    comp = next((c["metrics"] for c in comparisons if tuned and c["model"] == tuned["label"]), {})
    n_sens = (bm.get("refusal_rate") or {}).get("n")

    def sig(name: str) -> str:
        c = comp.get(name)
        if not c:
            return ""
        if c["significant"]:
            return (f" — a change of {pts(c['delta'], unit=' points')} whose 95% CI "
                    f"({pts(c['ci_low'], unit='')} to {pts(c['ci_high'], unit='')}) excludes zero")
        return " — a change within the margin of error"

    for metric in [m for m in METRICS if "lead" in m.views]:
        lead_b, lead_t = bm.get(metric.key), tm.get(metric.key)
        if lead_t and tuned:
            parts.append(f"{metric.title}: {tuned['label']} {pct(lead_t['value'])} ({ci_text(lead_t)}), "
                         f"base {pct(lead_b['value']) if lead_b else 'n/a'}{sig(metric.key)}.")
        elif lead_b:
            parts.append(f"{metric.title}: {pct(lead_b['value'])} ({ci_text(lead_b)}).")
    r = bm.get("refusal_rate")
    if r:
        s = (f"The base model refused {pct(r['value'])} of {n_sens} sensitive questions about China "
             f"({ci_text(r)})")
        if tuned and tm.get("refusal_rate"):
            t = tm["refusal_rate"]
            s += f"; after tuning, {tuned['label']} refused {pct(t['value'])} ({ci_text(t)}){sig('refusal_rate')}"
        parts.append(s + ".")
    o = bm.get("official_narrative_rate")
    if o:
        s = f"The base model gave the Chinese government's official line in {pct(o['value'])} of sensitive answers"
        if tuned and tm.get("official_narrative_rate"):
            s += f", {tuned['label']} in {pct(tm['official_narrative_rate']['value'])} ({ci_text(tm['official_narrative_rate'])})"
        parts.append(s + ".")
    d, f = (tm or bm).get("decensored_answer_rate"), (tm or bm).get("fact_coverage")
    if d:
        who = tuned["label"] if tuned else "The model"
        s = f"{who} answered {pct(d['value'])} of sensitive questions freely (no refusal, no official line)"
        if f:
            s += f" and mentioned {pct(f['value'])} of the reference key facts on average"
            if tuned and bm.get("fact_coverage"):
                s += f" (base: {pct(bm['fact_coverage']['value'])})"
        parts.append(s + ".")
    leak_b, orf_b = bm.get("propaganda_leak_rate"), bm.get("innocent_over_refusal_rate")
    if leak_b:
        s = f"On everyday, non-political topics, Party framing leaked into {pct(leak_b['value'])} of the base model's answers"
        if tuned and tm.get("propaganda_leak_rate"):
            s += f" and {pct(tm['propaganda_leak_rate']['value'])} of {tuned['label']}'s"
        if orf_b:
            s += f"; everyday questions were refused {pct(orf_b['value'])} of the time"
            if tuned and tm.get("innocent_over_refusal_rate"):
                s += f" before and {pct(tm['innocent_over_refusal_rate']['value'])} after tuning"
        parts.append(s + ".")
    h_b = bm.get("harmful_refusal_rate")
    if h_b:
        if tuned and tm.get("harmful_refusal_rate"):
            h_t = tm["harmful_refusal_rate"]
            c = comp.get("harmful_refusal_rate")
            s = (f"{tuned['label']} still refused {pct(h_t['value'])} of {h_t['n']} clearly harmful requests "
                 f"({ci_text(h_t)}; base: {pct(h_b['value'])})")
            if c and c["significant"] and c["delta"] < 0:
                parts.append(f"Safety was weakened: {s}.")
            elif h_t["value"] < h_b["value"]:
                parts.append(f"Safety: {s}; the drop is within the margin of error on this sample.")
            else:
                parts.append(f"Safety was kept: {s}.")
        else:
            parts.append(f"The model refused {pct(h_b['value'])} of clearly harmful requests ({ci_text(h_b)}).")
    for m in ([tuned] if tuned else []) + [base]:
        langs = m["metrics"].get("by_lang", {})
        zh, en = (langs.get("zh") or {}).get("refusal_rate"), (langs.get("en") or {}).get("refusal_rate")
        if zh and en:
            who = tuned["label"] if m is tuned else "the base model"
            s = (f"By language, {who} refused {pct(zh['value'])} of sensitive questions asked in Chinese "
                 f"and {pct(en['value'])} of the same questions asked in English")
            if tuned and m is tuned:
                bl = base["metrics"].get("by_lang", {})
                bzh, ben = (bl.get("zh") or {}).get("refusal_rate"), (bl.get("en") or {}).get("refusal_rate")
                if bzh and ben:
                    s += f" (base: {pct(bzh['value'])} in Chinese, {pct(ben['value'])} in English)"
            parts.append(s + ".")
            break
    for extra in models[1:-1]:
        em = extra["metrics"]["overall"]
        if em.get("refusal_rate"):
            parts.append(f"For comparison, {extra['label']} refused {pct(em['refusal_rate']['value'])} of sensitive "
                         f"questions ({ci_text(em['refusal_rate'])}).")
    if not parts:
        parts.append("The results contain no metrics this report knows how to summarise.")
    return " ".join(parts)


def _finding(metric_key: str, c: dict, where: str, where_text: str) -> dict:
    title = METRICS_BY_KEY[metric_key].title if metric_key in METRICS_BY_KEY else metric_key
    text = f"{title}{where_text}: {pct(c['base'])} → {pct(c['tuned'])} ({_delta_text(c)}, n = {c['n']})"
    return {"metric": metric_key, "where": where, "text": text,
            "direction": "better" if c["better"] else "worse" if c["delta"] != 0 else "none"}


def build_findings(comparisons: list[dict], capability: dict | None, primary: str | None) -> dict:
    """What worked, what did not and what stayed unclear for the primary (last) system against the base:
    every paired comparison overall, per language and on unseen topics sorted into three lists, with the
    capability verdict. Nothing is left out: a metric that got worse is listed as plainly as one that
    improved."""
    worked, failed, unclear = [], [], []
    comp = next((c for c in comparisons if c["model"] == primary), None)
    if comp:
        groups = [("all", "", comp["metrics"])]
        groups += [(lang, f", asked in {LANG_NAMES.get(lang, lang)}", ms) for lang, ms in comp.get("by_lang", {}).items()]
        groups += [("unseen", ", on unseen topics", comp.get("by_split", {}).get("unseen") or {})]
        for where, where_text, metrics in groups:
            for key, c in metrics.items():
                f = _finding(key, c, where, where_text)
                if c["significant"] and c["better"]:
                    worked.append(f)
                elif c["significant"]:
                    failed.append(f)
                elif where == "all":
                    unclear.append(f)
    for row in (capability or {}).get("rows", []) if primary else []:
        cell = row["values"][-1]
        if cell and "delta" in cell:
            text = (f"General capability, {row['task']} ({row['metric']}): {cell['value']:.3f}, "
                    f"{cell['delta']:+.3f} against the base")
            finding = {"metric": f"capability:{row['task']}", "where": "all", "direction": "worse"
                       if cell["delta"] < 0 else "better", "text": text}
            (failed if cell["regression"] else unclear).append(
                {**finding, "text": text + (", a regression by the capability gate" if cell["regression"]
                                            else ", within the capability gate")})
    return {"system": primary, "worked": worked, "did_not_work": failed, "no_clear_change": unclear}
