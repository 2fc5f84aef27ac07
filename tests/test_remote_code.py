"""The remote-code policy: a model's own Python never runs without consent on this command line.

Every refusal test uses a model folder whose code writes a marker file when imported, and checks that the
marker does not exist afterwards; one test grants consent and sees the marker appear, so the marker
would show a bypass.
"""

import json

import pytest

from decensor.models import model_arguments
from decensor.models.loading import load_model, load_model_and_tokenizer
from decensor.models.merge import merge_adapter
from decensor.models.remote_code import (RemoteCodePolicyError, check_remote_code, check_revision, code_sha256,
                                         consent, consent_from_argv)
from decensor.testing import build_kimi_shaped_model, build_tiny_adapter, build_tiny_model, write_marker_code

REAL_SHA = "3f2b6f4d9c1e8a7b5d0c2e4f6a8b1c3d5e7f9a0b"


@pytest.fixture
def code_model(tmp_path):
    """A tiny DeepSeek-V3-shaped folder whose config points at marker-writing code."""
    folder = build_tiny_model("deepseek-v3", tmp_path / "model")
    marker = tmp_path / "REMOTE_CODE_RAN"
    write_marker_code(folder, marker)
    return folder, marker


@pytest.mark.parametrize("revision", [None, "", "main", "v1.0", "3f2b6f4", "0" * 40, "a" * 40, "deadbeef" * 5,
                                      "0123456789abcdef0123456789abcdef01234567"])
def test_placeholder_and_moving_revisions_are_refused(revision):
    with pytest.raises(RemoteCodePolicyError):
        check_revision(revision)


def test_a_real_commit_id_passes():
    assert check_revision(REAL_SHA.upper()) == REAL_SHA


def test_local_folder_code_never_runs_without_consent(code_model):
    folder, marker = code_model
    args = model_arguments(str(folder), trust_remote_code=True, model_revision=REAL_SHA)   # pin ignored locally
    with consent(flag=False), pytest.raises(RemoteCodePolicyError) as err:
        load_model_and_tokenizer(args)
    assert code_sha256(folder) in str(err.value) and "--remote-code-sha256" in str(err.value)
    with consent(flag=False, code_sha256="0" * 64), pytest.raises(RemoteCodePolicyError):
        load_model(args)
    assert not marker.exists()


def test_the_printed_hash_is_consent_for_exactly_that_code(code_model):
    folder, marker = code_model
    with consent(code_sha256=code_sha256(folder)):
        load_model(model_arguments(str(folder), trust_remote_code=True))
    assert marker.exists(), "consent was given, so the folder's code should have run"
    marker.unlink()
    (folder / "modeling_marker.py").write_text((folder / "modeling_marker.py").read_text() + "\n# changed\n")
    with consent(code_sha256=code_sha256(folder) + "x"), pytest.raises(RemoteCodePolicyError):
        load_model(model_arguments(str(folder), trust_remote_code=True))
    assert not marker.exists()


def test_cross_repository_code_is_refused_even_with_consent(code_model):
    folder, marker = code_model
    write_marker_code(folder, marker, {"AutoModelForCausalLM": "someone/else--modeling_x.XForCausalLM"})
    with consent(flag=True), pytest.raises(RemoteCodePolicyError, match="another repository"):
        load_model(model_arguments(str(folder), trust_remote_code=True))
    assert not marker.exists()


def test_hub_models_need_the_flag_and_a_real_pin():
    with consent(flag=False), pytest.raises(RemoteCodePolicyError, match="--trust-remote-code"):
        check_remote_code("moonshotai/Kimi-K2-Instruct", True, REAL_SHA)
    with consent(flag=True), pytest.raises(RemoteCodePolicyError, match="placeholder"):
        check_remote_code("moonshotai/Kimi-K2-Instruct", True, "0" * 40)
    with consent(flag=True), pytest.raises(RemoteCodePolicyError, match="branch"):
        check_remote_code("moonshotai/Kimi-K2-Instruct", True, "main")


def test_consent_comes_from_the_command_line():
    assert consent_from_argv(["train", "r.yaml", "--trust-remote-code"]).flag
    assert consent_from_argv(["r.yaml", "--trust_remote_code", "true"]).flag
    assert not consent_from_argv(["r.yaml", "--trust_remote_code", "false"]).flag
    assert consent_from_argv(["merge", "x", "--remote-code-sha256=ABC"]).code_sha256 == "abc"
    assert consent_from_argv(["merge", "x", "--remote-code-sha256", "abc"]).code_sha256 == "abc"
    assert consent_from_argv(["r.yaml", "trust_remote_code=true"]) == consent_from_argv([])


def test_merge_never_takes_consent_from_the_adapter(tmp_path):
    """A downloaded adapter whose run folder asks for remote code on a base with code must not run it."""
    folder, marker = build_tiny_model("qwen2", tmp_path / "base"), tmp_path / "REMOTE_CODE_RAN"
    adapter = build_tiny_adapter(folder, tmp_path / "adapter")
    write_marker_code(folder, marker)
    (adapter / "recipe.resolved.yaml").write_text(
        f"model_name_or_path: {folder}\ntrust_remote_code: true\nmodel_revision: {REAL_SHA}\n")
    with consent(flag=False), pytest.raises(RemoteCodePolicyError):
        merge_adapter(adapter, tmp_path / "merged")
    assert not marker.exists() and not (tmp_path / "merged").exists()


def test_kimi_shaped_checkpoint_loads_natively_without_its_code(tmp_path):
    marker = tmp_path / "KIMI_CODE_RAN"
    folder = build_kimi_shaped_model(tmp_path / "kimi", marker)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "kimi_k2"
    with consent(flag=False):   # the recipe asks for remote code (tokenizer); the model never needs it
        model = load_model(model_arguments(str(folder), family="kimi-k2", trust_remote_code=True))
    assert type(model).__name__ == "DeepseekV3ForCausalLM"
    assert model.config.first_k_dense_replace == 1 and model.config.n_group == 1
    assert model.config.kv_lora_rank == 16   # multi-head latent attention kept
    assert not marker.exists()
