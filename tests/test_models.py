import pytest
import torch

from decensor.models import detect_family, get_family, load_model_and_tokenizer, model_arguments
from decensor.models.registry import FAMILIES

from decensor.testing import TINY_FAMILIES


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_tiny_family_loads_and_runs(tiny_model_dir, family):
    model, tokenizer = load_model_and_tokenizer(model_arguments(tiny_model_dir(family), family=family))
    assert model.config.model_type in get_family(family).model_types
    text = tokenizer.apply_chat_template([{"role": "user", "content": "台湾 hello"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    batch = tokenizer([text], return_tensors="pt")
    logits = model(**batch).logits
    assert logits.shape == (1, batch.input_ids.shape[1], len(tokenizer))
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_registry_lora_targets_exist_in_the_model(tiny_model_dir, family):
    model, _ = load_model_and_tokenizer(model_arguments(tiny_model_dir(family), family=family))
    leaf_names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = set(get_family(family).lora_target_modules) - leaf_names
    assert not missing, f"{family}: registry targets {missing} are not modules of the model"


def test_family_detection():
    assert detect_family("Qwen/Qwen2.5-7B-Instruct").name == "qwen2"
    assert detect_family("Qwen/Qwen3-30B-A3B").name == "qwen3-moe"
    assert detect_family("Qwen/Qwen3-8B").name == "qwen3"
    assert detect_family("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B").name == "deepseek-r1-distill-qwen"
    assert detect_family("deepseek-ai/DeepSeek-R1-Distill-Llama-8B").name == "deepseek-r1-distill-llama"
    assert detect_family("deepseek-ai/DeepSeek-V3").name == "deepseek-v3"
    assert detect_family("moonshotai/Kimi-K2-Instruct").name == "kimi-k2"
    assert detect_family("/some/local/dir", model_type="qwen3_moe").name == "qwen3-moe"
    with pytest.raises(KeyError, match="cannot tell the model family"):
        detect_family("/some/local/dir", model_type="gpt2")
    assert {"qwen2", "qwen3", "qwen3-moe", "deepseek-v3", "kimi-k2"} <= set(FAMILIES)


def test_qlora_args_store_4bit_weights_in_compute_dtype():
    args = model_arguments("x", load_in_4bit=True, dtype="bfloat16")
    assert args.bnb_4bit_quant_storage == "bfloat16"


def test_tiny_model_loads_in_4bit(tiny_model_dir):
    model, _ = load_model_and_tokenizer(model_arguments(tiny_model_dir("qwen2"), load_in_4bit=True,
                                                        dtype="bfloat16"))
    import bitsandbytes as bnb

    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized, "no layer was quantized"
    assert quantized[0].weight.dtype == torch.bfloat16  # quant storage, so ZeRO-3 can shard it
    out = model(input_ids=torch.tensor([[1, 2, 3]])).logits
    assert torch.isfinite(out.float()).all()
