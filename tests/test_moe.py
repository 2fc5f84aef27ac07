"""LoRA on fused routed experts (peft target_parameters) and ZeRO-3 leaf MoE blocks, on tiny qwen3-moe and
deepseek-v3 models."""

from __future__ import annotations

import pytest
import torch

from decensor.models.registry import ROUTED_EXPERT_PARAMETERS, get_family
from decensor.train.moe import (configure_expert_lora, expert_rank, register_zero3_leaf_modules,
                                split_expert_targets)

MOE = [("qwen3-moe", ["q_proj", "v_proj"]), ("deepseek-v3", ["q_a_proj", "kv_b_proj"])]


def _experts(model):
    """(name, module) of the first fused expert stack."""
    return next((n, m) for n, m in model.named_modules() if n.endswith("mlp.experts") and hasattr(m, "num_experts"))


def _expert_out(experts, hidden, idx, weights):
    with torch.no_grad():
        return experts(hidden, idx, weights)


def _peft_config(targets, rank_entries):
    from peft import LoraConfig

    return configure_expert_lora(LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets,
                                            target_parameters=rank_entries, init_lora_weights=False,
                                            task_type="CAUSAL_LM"))


def test_split_expert_targets():
    assert split_expert_targets(["mlp.experts.gate_up_proj:4", "mlp.experts.down_proj"]) == (
        ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"], {"mlp.experts.gate_up_proj": 4})
    assert expert_rank(["a:4", "b"], 16) == 16 and expert_rank(["a:4", "b:2"], 16) == 4
    assert expert_rank(None, 16) == 0
    with pytest.raises(ValueError, match="positive integer"):
        split_expert_targets(["mlp.experts.down_proj:zero"])


@pytest.mark.parametrize("family,targets", MOE)
def test_lora_on_experts_changes_expert_outputs_and_reloads(tiny_model_dir, tmp_path, family, targets):
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    model_dir = tiny_model_dir(family)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    name, experts = _experts(base)
    torch.manual_seed(0)
    hidden = torch.randn(6, base.config.hidden_size)
    idx = torch.stack([torch.randperm(experts.num_experts)[:2] for _ in range(6)])
    weights = torch.full((6, 2), 0.5)
    before = _expert_out(experts, hidden, idx, weights)

    entries = [f"{p}:2" for p in ROUTED_EXPERT_PARAMETERS]
    tuned = get_peft_model(base, _peft_config(targets, entries))
    wrapper = tuned.get_submodule("base_model.model." + name)
    # rank 2 per expert (not lora_r=8): lora_A stacks the experts' A matrices, (experts * r, in)
    ranks = {m.parameter_name: m.lora_A["default"].weight.shape[0] // m.num_experts
             for m in tuned.modules() if type(m).__name__ == "ParamWrapper"}
    assert ranks == {"gate_up_proj": 2, "down_proj": 2}
    trainable = [n for n, p in tuned.named_parameters() if p.requires_grad]
    assert any("experts" in n for n in trainable) and not any(n.endswith("gate.weight") for n in trainable)
    after = _expert_out(wrapper, hidden, idx, weights)
    assert float((after - before).abs().max()) > 1e-3, "LoRA on the experts left their outputs unchanged"

    tuned.save_pretrained(tmp_path / "adapter")
    fresh = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    reloaded = PeftModel.from_pretrained(fresh, str(tmp_path / "adapter"))
    again = _expert_out(reloaded.get_submodule("base_model.model." + name), hidden, idx, weights)
    torch.testing.assert_close(again, after)
    # merged weights give the same expert outputs (what serving uses)
    merged = reloaded.merge_and_unload()
    torch.testing.assert_close(_expert_out(merged.get_submodule(name), hidden, idx, weights), after,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", ["qwen3-moe", "deepseek-v3"])
def test_zero3_leaf_modules_for_every_moe_block(tiny_model_dir, family):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir(family), dtype=torch.float32)
    names = register_zero3_leaf_modules(model, get_family(family).moe_block_classes)
    blocks = [n for n, m in model.named_modules() if n.endswith(".mlp") and hasattr(m, "experts")]
    assert names == blocks and blocks
    assert all(getattr(model.get_submodule(n), "_z3_leaf", False) for n in names)


def test_moe_model_under_a_dense_family_is_an_error(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir("qwen3-moe"), dtype=torch.float32)
    with pytest.raises(ValueError, match="moe_block_classes"):
        register_zero3_leaf_modules(model, get_family("qwen3").moe_block_classes)
    with pytest.raises(ValueError, match="does not match"):
        register_zero3_leaf_modules(model, ("DeepseekV3MoE",))


def test_every_moe_family_names_its_block():
    import importlib

    for name in ("qwen3-moe", "deepseek-v3", "kimi-k2"):
        fam = get_family(name)
        assert fam.moe_block_classes and fam.expert_parameters == ROUTED_EXPERT_PARAMETERS
        module = importlib.import_module("transformers.models." + {"qwen3-moe": "qwen3_moe"}.get(
            name, "deepseek_v3") + ".modeling_" + {"qwen3-moe": "qwen3_moe"}.get(name, "deepseek_v3"))
        assert all(hasattr(module, c) for c in fam.moe_block_classes)
