"""The data and suite sizes README states are the sizes of what ships: recomputed here from the files."""

from collections import Counter

from decensor.data.jsonl import read_jsonl
from decensor.data.topics import load_topics
from decensor.eval.suites import load_suites
from decensor.paths import DATA_DIR, REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def rows(stage: str) -> list[dict]:
    return [row for path in sorted((DATA_DIR / stage).glob("*.jsonl")) for _, row in read_jsonl(path)]


def test_data_sizes_in_readme():
    sft, dpo = rows("sft"), rows("dpo")
    kinds = Counter(r["kind"] for r in sft)
    multi_turn = sum(sum(m["role"] == "user" for m in r["messages"]) > 1 for r in sft)
    stated = (f"{len(sft):,} SFT rows ({len({r['topic'] for r in sft if r['kind'] == 'sensitive'})} sensitive topics,\n"
              f"{multi_turn} multi-turn, {sum(r['lang'] == 'zh-Hant' for r in sft)} zh-Hant; innocent "
              f"{kinds['innocent'] / len(sft):.0%}, harmful-refusal + mixed "
              f"{(kinds['harmful-refusal'] + kinds['mixed']) / len(sft):.0%}) and {len(dpo):,} DPO rows")
    assert stated in README


def test_suite_sizes_in_readme():
    prompts = load_suites()
    unseen = {t.id for t in load_topics().values() if t.split == "unseen"}
    pairs = Counter((p.kind, p.topic in unseen) for p in prompts if p.lang == "en")
    stated = [f"{len(prompts)} prompts in {len({p.pair_id for p in prompts})} pairs",
              f"{pairs[('sensitive', False)]} sensitive pairs on topics seen in training",
              f"{pairs[('sensitive', True)]} sensitive pairs on {sum(load_topics()[t].kind == 'sensitive' for t in unseen)} "
              "**unseen topics**",
              f"{pairs[('innocent', False)]} innocent pairs", f"plus {pairs[('innocent', True)]} on\n4 unseen",
              f"{pairs[('harmful', False)]} harmful pairs", f"{pairs[('control', False)]} control pairs"]
    for text in stated:
        assert text in README, text
