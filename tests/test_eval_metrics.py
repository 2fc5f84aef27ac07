from decensor.eval.judges import Judgement, Labels
from decensor.eval.metrics import bootstrap_ci, compare_records, compute_metrics


def record(i, lang, refused, kind="sensitive", topic="tiananmen-1989"):
    j = Judgement(Labels(refusal="hard" if refused else "none", facts_covered=[not refused, False]))
    return {"id": f"p{i}-{lang}", "pair_id": f"p{i}", "lang": lang, "topic": topic, "kind": kind, "judgement": j.to_dict()}


def test_bootstrap_ci_brackets_the_mean():
    lo, hi = bootstrap_ci([0, 1] * 50)
    assert lo < 0.5 < hi and hi - lo < 0.3


def test_metrics_per_language_and_zh_en_gap():
    recs = [record(i, "en", True) for i in range(20)] + [record(i, "zh", i < 5) for i in range(20)]
    m = compute_metrics(recs, n_boot=200)
    assert m["overall"]["refusal_rate"]["value"] == 25 / 40
    assert m["by_lang"]["en"]["refusal_rate"]["value"] == 1.0
    assert m["by_lang"]["zh"]["refusal_rate"]["value"] == 0.25
    gap = m["zh_en_gap"]["refusal_rate"]
    assert gap["value"] == -0.75 and gap["ci_high"] < 0
    assert m["overall"]["fact_coverage"]["value"] == (15 * 0.5) / 40


def test_compare_marks_a_real_drop_significant_and_noise_not():
    base = [record(i, "en", True) for i in range(40)]
    tuned = [record(i, "en", i < 4) for i in range(40)]
    same = [record(i, "en", True) for i in range(40)]
    c = compare_records(base, tuned, n_boot=300)["refusal_rate"]
    assert c["base"] == 1.0 and c["tuned"] == 0.1 and c["significant"] and c["better"]
    assert not compare_records(base, same, n_boot=300)["refusal_rate"]["significant"]
