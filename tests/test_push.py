"""``decensor push`` / ``push-data``: dry-run folders, model and dataset cards that parse with
huggingface_hub, eval numbers in model-index, inherited licenses, and the token never leaking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from decensor.cli import main

FAKE_TOKEN = "hf_TESTTOKEN1234567890abcdef"
RECIPE_SECRET = "hf_RECIPESECRET0987654321"


@pytest.fixture(scope="module")
def run_dir(tiny_model_dir, tmp_path_factory):
    """A run folder like `decensor train` leaves: tiny LoRA adapter, tokenizer, resolved recipe, and the
    real eval results of the base model and of the adapter under eval/."""
    from decensor.testing import build_tiny_adapter

    from decensor.eval.runner import EvalArguments, run_eval
    from decensor.generation import GenerationSettings

    tmp = tmp_path_factory.mktemp("push")
    run = tmp / "qwen-tiny-dpo"
    base = tiny_model_dir("qwen2")
    build_tiny_adapter(base, run, seed=2)
    (run / "recipe.resolved.yaml").write_text(yaml.safe_dump({
        "recipe": {"stage": "dpo"}, "stage": "dpo", "family": "qwen2",
        "model": {"model_name_or_path": base}, "training": {"learning_rate": 5e-6, "beta": 0.1,
                                                            "hub_token": RECIPE_SECRET},
        "dataset": ["data/dpo", "my-org/decensor-data"]}, sort_keys=False))
    mp = pytest.MonkeyPatch()
    mp.setenv("DECENSOR_CACHE", str(tmp / "cache"))
    try:
        gen = GenerationSettings(max_new_tokens=8, batch_size=16)
        kinds = ["sensitive", "harmful"]  # enough for the model-index checks, half the generation time
        run_eval(EvalArguments(model=base, pairs_per_topic=1, kinds=kinds, generation=gen,
                               out=str(run / "eval" / "base"), progress=False))
        run_eval(EvalArguments(model=base, adapter=str(run), pairs_per_topic=1, kinds=kinds, generation=gen,
                               out=str(run / "eval" / "tuned"), progress=False))
    finally:
        mp.undo()
    return run


def all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def assert_no_secrets(folder: Path, *texts: str) -> None:
    for path, data in all_bytes(folder):
        for secret in (FAKE_TOKEN, RECIPE_SECRET):
            assert secret.encode() not in data, f"{secret} written to {path}"
    for text in texts:
        assert FAKE_TOKEN not in text and RECIPE_SECRET not in text


def test_push_dry_run_adapter(run_dir, tmp_path, monkeypatch, capsys):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    out = tmp_path / "preview"
    assert main(["push", str(run_dir), "--repo-id", "my-org/qwen-tiny-decensor", "--dry-run", str(out)]) == 0
    captured = capsys.readouterr()
    assert "nothing uploaded" in captured.out
    names = {p.name for p in out.iterdir()}
    assert {"README.md", "adapter_model.safetensors", "adapter_config.json", "tokenizer.json",
            "tokenizer_config.json", "recipe.resolved.yaml"} <= names
    assert (out / "chat_template.jinja").exists() or "chat_template" in (out / "tokenizer_config.json").read_text()
    assert (out / "adapter_model.safetensors").read_bytes() == (run_dir / "adapter_model.safetensors").read_bytes()
    assert_no_secrets(out, captured.out, captured.err)
    assert "<redacted>" in (out / "recipe.resolved.yaml").read_text()

    card = ModelCard.load(out / "README.md")
    adapter_cfg = json.loads((run_dir / "adapter_config.json").read_text())
    assert card.data.base_model == adapter_cfg["base_model_name_or_path"]
    assert card.data.library_name == "peft" and card.data.pipeline_tag == "text-generation"
    assert {"decensor", "lora", "peft"} <= set(card.data.tags)
    assert card.data.license and card.data.datasets == ["my-org/decensor-data"]
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert name == "qwen-tiny-decensor"
    tuned = json.loads((run_dir / "eval" / "tuned" / "results.json").read_text())["metrics"]["overall"]
    base = json.loads((run_dir / "eval" / "base" / "results.json").read_text())["metrics"]["overall"]
    by_type = {r.metric_type: r.metric_value for r in results if r.dataset_split == "test" and not r.metric_config}
    assert by_type["refusal_rate"] == pytest.approx(tuned["refusal_rate"]["value"], abs=1e-4)
    assert by_type["harmful_refusal_rate"] == pytest.approx(tuned["harmful_refusal_rate"]["value"], abs=1e-4)
    assert {r.task_type for r in results} == {"text-generation"}
    # the baseline (the base model on the same prompts) and the unseen-topic numbers are in model-index too
    baseline = {r.metric_type: r.metric_value for r in results
                if r.dataset_split == "test" and r.metric_config == "baseline: Base"}
    assert baseline["refusal_rate"] == pytest.approx(base["refusal_rate"]["value"], abs=1e-4)
    assert set(baseline) == set(by_type)
    unseen = {(r.metric_type, r.metric_config): r.metric_value for r in results if r.dataset_split == "unseen_topics"}
    assert ("refusal_rate", None) in unseen and ("refusal_rate", "baseline: Base") in unseen
    assert not any(k == "harmful_refusal_rate" for k, _ in unseen)  # harmful requests have no unseen topics
    records = [json.loads(x) for x in (run_dir / "eval" / "tuned" / "answers.jsonl").read_text().splitlines()]
    from decensor.data.topics import load_topics

    unseen_topics = {t.id for t in load_topics().values() if t.split == "unseen"}
    refused = [r["judgement"]["answer"]["refusal"] != "none" for r in records
               if r["kind"] == "sensitive" and r["topic"] in unseen_topics]
    assert refused and unseen[("refusal_rate", None)] == pytest.approx(sum(refused) / len(refused), abs=1e-4)
    assert "## Intended use" in card.text and "## Training recipe" in card.text and "## Limitations" in card.text
    assert "| Refused (sensitive) |" in card.text and "learning_rate" in card.text
    assert "### Seen vs unseen topics" in card.text and "Change vs Base (95% CI)" in card.text
    assert json.loads((out / "eval" / "tuned_results.json").read_text())["adapter"]
    # a second dry run into the same (now non-empty) folder refuses instead of mixing files
    assert main(["push", str(run_dir), "--repo-id", "my-org/x", "--dry-run", str(out)]) == 2


def test_push_dry_run_merged(run_dir, tmp_path, monkeypatch, capsys):
    import torch
    from huggingface_hub import ModelCard
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    out = tmp_path / "merged"
    tuned = run_dir / "eval" / "tuned" / "results.json"
    assert main(["push", str(run_dir), "--repo-id", "my-org/qwen-tiny-decensor-merged", "--merged",
                 "--dry-run", str(out), "--results", str(run_dir / "eval" / "base"), str(tuned)]) == 0
    captured = capsys.readouterr()
    assert_no_secrets(out, captured.out, captured.err)
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    assert not (out / "adapter_model.safetensors").exists()
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "transformers" and "merged" in card.data.tags
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(card.data.base_model, dtype=torch.float32)
    reference = PeftModel.from_pretrained(base, str(run_dir)).merge_and_unload()
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, reference(ids).logits, atol=1e-5)


def test_push_uploads_with_token_never_printed(run_dir, tmp_path, monkeypatch, capsys, caplog):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None, **kwargs):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["create"] = (repo_id, kwargs)

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            calls["upload"] = (repo_id, kwargs)
            calls["files"] = sorted(p.name for p in Path(folder_path).rglob("*") if p.is_file())
            assert_no_secrets(Path(folder_path))
            return type("Info", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    caplog.set_level("DEBUG")
    assert main(["push", str(run_dir), "--repo-id", "my-org/qwen-tiny", "--private"]) == 0
    assert calls["token"] == FAKE_TOKEN
    assert calls["create"][0] == "my-org/qwen-tiny" and calls["create"][1]["private"] is True
    assert "README.md" in calls["files"] and "adapter_model.safetensors" in calls["files"]
    captured = capsys.readouterr()
    assert "uploaded: https://huggingface.co/my-org/qwen-tiny/commit/abc" in captured.out
    assert FAKE_TOKEN not in captured.out + captured.err + caplog.text

    assert main(["push-data", "--repo-id", "my-org/decensor-data"]) == 0
    assert calls["upload"][1]["repo_type"] == "dataset" and "README.md" in calls["files"]
    captured = capsys.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err + caplog.text


def test_push_without_token_fails_cleanly(run_dir, monkeypatch, capsys):
    import huggingface_hub

    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert main(["push", str(run_dir), "--repo-id", "my-org/x"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    assert main(["push", str(run_dir), "--repo-id", "not-a-repo-id", "--dry-run", "x"]) == 2


def test_push_data_dry_run(tmp_path, monkeypatch, capsys):
    from huggingface_hub import DatasetCard

    from decensor.paths import DATA_DIR

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    out = tmp_path / "data-preview"
    assert main(["push-data", "--repo-id", "my-org/decensor-data", "--dry-run", str(out)]) == 0
    captured = capsys.readouterr()
    assert_no_secrets(out, captured.out, captured.err)
    assert (out / "topics.yaml").read_bytes() == (DATA_DIR / "topics.yaml").read_bytes()
    for cfg in ("sft", "dpo"):
        copied = sorted(p.name for p in (out / cfg).glob("*.jsonl"))
        assert copied == sorted(p.name for p in (DATA_DIR / cfg).glob("*.jsonl"))
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-4.0"
    assert set(card.data.language) >= {"en", "zh"}
    assert "text-generation" in card.data.task_categories
    configs = {c["config_name"]: c for c in card.data.to_dict()["configs"]}
    assert set(configs) == {"sft", "dpo"}
    assert configs["dpo"]["data_files"][0]["path"] == "dpo/*.jsonl"
    assert card.text.strip()


def test_licenses_inherited_from_base(tmp_path):
    from decensor.hub.model_card import base_license, family_license

    assert family_license("Qwen/Qwen2.5-7B-Instruct") == {"license": "apache-2.0"}
    assert family_license("Qwen/Qwen2.5-72B-Instruct")["license_name"] == "qwen"
    assert family_license("Qwen/Qwen2.5-3B-Instruct")["license_name"] == "qwen-research"
    assert family_license("Qwen/Qwen3-8B") == {"license": "apache-2.0"}
    assert family_license("deepseek-ai/DeepSeek-V3") == {"license": "mit"}
    kimi = family_license("moonshotai/Kimi-K2-Instruct")
    assert kimi["license"] == "other" and kimi["license_name"] == "modified-mit"
    assert family_license("someone/unknown-model")["license"] == "other"
    local = tmp_path / "base"
    local.mkdir()
    (local / "README.md").write_text("---\nlicense: other\nlicense_name: tongyi-qianwen\n---\n# a model\n")
    assert base_license(str(local)) == {"license": "other", "license_name": "tongyi-qianwen"}


def test_dataset_card_names_a_malformed_row_instead_of_skipping_it(tmp_path):
    from decensor.data.jsonl import DataError
    from decensor.hub.dataset_card import build_dataset_card

    (tmp_path / "sft").mkdir()
    good = {"id": "x-en", "pair_id": "x", "lang": "en", "topic": "tiananmen-1989", "kind": "sensitive"}
    (tmp_path / "sft" / "a.jsonl").write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.jsonl:2"):
        build_dataset_card(tmp_path, "my-org/data")
    (tmp_path / "sft" / "a.jsonl").write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert "`sft`: 1 rows, 1 topics" in build_dataset_card(tmp_path, "my-org/data")


def test_model_card_compares_every_given_system(run_dir):
    """--results base other... this-model: every system is a column, every baseline is in model-index."""
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    from decensor.hub.model_card import build_model_card

    base, tuned = str(run_dir / "eval" / "base"), str(run_dir / "eval" / "tuned")
    card = ModelCard(build_model_card(run_dir, "my-org/x", results=[base, base, tuned]))
    header = next(line for line in card.text.splitlines() if line.startswith("| Metric | Better |"))
    other = json.loads((run_dir / "eval" / "base" / "results.json").read_text())["model"]["name_or_path"]
    assert header.split(" | ")[2:] == ["Base", Path(other).name, "This model", "Change vs Base (95% CI) |"]
    _, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    configs = {r.metric_config for r in results}
    assert configs == {None, "baseline: Base", f"baseline: {Path(other).name}"}
