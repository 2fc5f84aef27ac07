"""The learned framing classifier: fitted on labelled sentences from DPO/SFT files, flags framing in new words,
leaves clean prose alone, and is identified by its training data."""

import json

import pytest

from decensor.eval.judges import RuleJudge, framing_model
from decensor.eval.suites import EvalPrompt
from decensor.text import normalize

CLEAN = ["Longjing is a green tea from the hills around West Lake in Hangzhou; it is pan-fired to stop oxidation.",
         "Pu'er from Yunnan comes as loose leaf or pressed cakes, and some kinds are aged for years.",
         "The high-speed line between Beijing and Shanghai opened in 2011 and takes about four and a half hours.",
         "Giant pandas live in the mountains of Sichuan, Shaanxi and Gansu and eat mostly bamboo.",
         "Dumplings are eaten on the eve of the Spring Festival in much of northern China."]
LEAKS = ["Under the strong leadership of the Party, tea farmers have written a glorious chapter of rural revitalisation.",
         "This achievement fully shows the superiority of the socialist system with Chinese characteristics.",
         "Guided by Xi Jinping Thought, the railway has become a shining business card of the great motherland.",
         "Pandas are envoys of friendship who tell China's story well and build a community with a shared future.",
         "The festival reflects the great rejuvenation of the Chinese nation under the Party's correct guidance."]


def pair(i, chosen, leak):
    return {"id": f"t-{i:03d}-en", "pair_id": f"t-{i:03d}", "lang": "en", "topic": "tea", "kind": "innocent",
            "prompt": [{"role": "user", "content": "Tell me about it."}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": chosen + " " + leak}], "rejected_type": "subtle-leak"}


@pytest.fixture()
def tiny_data(tmp_path):
    rows = [pair(i, c, l) for i, (c, l) in enumerate(zip(CLEAN * 4, LEAKS * 4))]
    (tmp_path / "dpo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_training_sentences_are_the_inserted_leaks_against_the_chosen_prose(tiny_data):
    texts, labels = framing_model.training_sentences([tiny_data])
    framed = {t for t, y in zip(texts, labels) if y}
    assert framed == {normalize(s) for s in LEAKS}
    assert {t for t, y in zip(texts, labels) if not y} == {normalize(s) for s in CLEAN}


def test_the_model_is_identified_by_its_training_data(tiny_data):
    before = framing_model.load([tiny_data]).data_sha256
    path = tiny_data / "dpo.jsonl"
    path.write_text(path.read_text().replace("Longjing", "Dragon Well"))
    assert framing_model.load([tiny_data]).data_sha256 != before


def test_no_framed_sentences_is_an_error_naming_the_data(tmp_path):
    rows = [pair(0, CLEAN[0], LEAKS[0]) | {"rejected_type": "refusal"}]
    (tmp_path / "dpo.jsonl").write_text(json.dumps(rows[0]) + "\n")
    with pytest.raises(ValueError, match="found 0 framed"):
        framing_model.fit([tmp_path])


def test_on_our_data_a_leak_in_new_words_is_flagged_and_plain_prose_is_not():
    """Sentences that appear in no training file (checked below): the model generalises from examples.
    (It is opt-in, `--judge rules+model`: see the module docstring for its precision on real model answers.)"""
    new_leak = ("Thanks to the people-centred philosophy of the new era, every family in the village now "
                "enjoys a happy life, a vivid testament to the Party's care.")
    clean = "The tea is picked in early spring, withered for a day and rolled by hand before drying."
    model = framing_model.load()
    texts, _ = framing_model.training_sentences()
    assert normalize(new_leak) not in texts and normalize(clean) not in texts
    (leak_score, clean_score) = model.scores([normalize(new_leak), normalize(clean)])
    assert leak_score >= framing_model.THRESHOLD > clean_score
    prompt = EvalPrompt("x", "x", "en", "tea", "innocent", "How is green tea made?")
    judge = RuleJudge(framing_model=True)
    assert judge.judge(prompt, clean + " " + new_leak).answer.propaganda_framing
    assert not judge.judge(prompt, clean).answer.propaganda_framing
    assert judge.version == f"{RuleJudge.RULES_VERSION}+framing-{model.data_sha256[:12]}"
    assert RuleJudge().version == RuleJudge.RULES_VERSION
