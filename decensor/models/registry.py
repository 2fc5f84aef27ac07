"""Model families decensor knows: chat template, reasoning style, LoRA targets and memory facts.

A new family is one entry here plus a recipe YAML. Targets were read off transformers 5.x modules:
routed MoE experts are fused 3-D parameters (``mlp.experts.gate_up_proj`` / ``mlp.experts.down_proj``),
so ``target_modules`` names such as ``gate_proj`` reach only dense MLPs and shared experts; routed
experts are adapted only through peft's ``target_parameters`` when a recipe asks for it
(see :mod:`decensor.train.moe`). Every MoE family names its MoE block class (``moe_block_classes``): under
DeepSpeed ZeRO-3 that block is registered as a leaf module, so all its experts are gathered at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DENSE_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ATTENTION_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
# Multi-head latent attention (DeepSeek-V2/V3): low-rank query and joint key-value projections.
MLA_TARGETS = ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj")
ROUTED_EXPERT_PARAMETERS = ("mlp.experts.gate_up_proj", "mlp.experts.down_proj")


@dataclass(frozen=True)
class ModelFamily:
    name: str
    description: str
    model_types: tuple[str, ...]          # config.model_type values of this family
    name_patterns: tuple[str, ...]        # lower-case substrings of hub ids that pick this family
    examples: tuple[str, ...]
    chat_template: str                    # where the chat template comes from
    reasoning: str                        # "none", "always-think" or "hybrid-think"
    lora_target_modules: tuple[str, ...]
    experts_adapted: str                  # "n/a", "none", "shared", "shared+routed"
    lora_target_parameters: tuple[str, ...] = ()
    needs_remote_code: bool = False       # its tokenizer or model needs the repo's code (decensor.models.remote_code)
    # transformers model_type to load the weights with when the published config names an unknown type
    # whose architecture transformers ships (Kimi-K2 -> deepseek_v3): the repo's modelling code never runs.
    native_model_type: str | None = None
    weights_dtype: str = "bfloat16"       # how the published weights are stored
    # Known sizes (billions of parameters) of the examples, for `decensor plan`.
    sizes_b: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (total, active)
    notes: str = ""
    # MoE families: the transformers class of the block that routes to the experts (router + experts, plus
    # shared experts on DeepSeek-V3). Registered as a ZeRO-3 leaf module (deepspeed.utils.set_z3_leaf_modules):
    # the experts a batch reaches change from step to step, which breaks ZeRO-3's recorded prefetch order and
    # hangs training (DeepSpeed#7461) unless the whole block is fetched as one unit.
    moe_block_classes: tuple[str, ...] = ()
    # Routed experts, when a recipe adapts them: fused 3-D parameters for peft's target_parameters.
    expert_parameters: tuple[str, ...] = ()

    @property
    def is_moe(self) -> bool:
        return bool(self.moe_block_classes)


FAMILIES: dict[str, ModelFamily] = {}


def register(family: ModelFamily) -> ModelFamily:
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} registered twice")
    FAMILIES[family.name] = family
    return family


register(ModelFamily(
    name="qwen2",
    description="Qwen2 / Qwen2.5 dense instruct models (also Qwen2.5-Coder)",
    model_types=("qwen2",),
    name_patterns=("qwen2.5", "qwen2-"),
    examples=("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-Coder-0.5B-Instruct"),
    chat_template="tokenizer (ChatML, <|im_start|>/<|im_end|>, default system prompt)",
    reasoning="none",
    lora_target_modules=DENSE_TARGETS,
    experts_adapted="n/a",
    sizes_b={"Qwen/Qwen2.5-7B-Instruct": (7.6, 7.6), "Qwen/Qwen2.5-72B-Instruct": (72.7, 72.7),
             "Qwen/Qwen2.5-Coder-0.5B-Instruct": (0.49, 0.49)},
))
register(ModelFamily(
    name="qwen3",
    description="Qwen3 dense models with hybrid thinking (enable_thinking in the chat template)",
    model_types=("qwen3",),
    name_patterns=("qwen3-",),
    examples=("Qwen/Qwen3-8B", "Qwen/Qwen3-32B"),
    chat_template="tokenizer (ChatML with <think> blocks; enable_thinking switches reasoning)",
    reasoning="hybrid-think",
    lora_target_modules=DENSE_TARGETS,
    experts_adapted="n/a",
    sizes_b={"Qwen/Qwen3-8B": (8.2, 8.2), "Qwen/Qwen3-32B": (32.8, 32.8)},
))
register(ModelFamily(
    name="qwen3-moe",
    description="Qwen3 mixture-of-experts models (128 routed experts, no shared expert)",
    model_types=("qwen3_moe",),
    name_patterns=("qwen3-30b-a3b", "qwen3-235b-a22b"),
    examples=("Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-235B-A22B"),
    chat_template="tokenizer (ChatML with <think> blocks; enable_thinking switches reasoning)",
    reasoning="hybrid-think",
    lora_target_modules=ATTENTION_TARGETS,
    experts_adapted="none",
    sizes_b={"Qwen/Qwen3-30B-A3B": (30.5, 3.3), "Qwen/Qwen3-235B-A22B": (235.1, 22.2)},
    moe_block_classes=("Qwen3MoeSparseMoeBlock",),
    expert_parameters=ROUTED_EXPERT_PARAMETERS,
    notes="Routers (mlp.gate) are never adapted. Routed experts: add ROUTED_EXPERT_PARAMETERS to "
          "lora_target_parameters in the recipe to adapt them (peft ParamWrapper, more memory; "
          "`name:r` sets the rank per expert).",
))
register(ModelFamily(
    name="deepseek-r1-distill-qwen",
    description="DeepSeek-R1 distilled into Qwen2.5 (always reasons in <think>...</think>)",
    model_types=("qwen2",),
    name_patterns=("deepseek-r1-distill-qwen",),
    examples=("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"),
    chat_template="tokenizer (DeepSeek <｜User｜>/<｜Assistant｜> template; the generation prompt opens <think>)",
    reasoning="always-think",
    lora_target_modules=DENSE_TARGETS,
    experts_adapted="n/a",
    sizes_b={"deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": (7.6, 7.6),
             "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": (32.8, 32.8)},
))
register(ModelFamily(
    name="deepseek-r1-distill-llama",
    description="DeepSeek-R1 distilled into Llama 3 (always reasons in <think>...</think>)",
    model_types=("llama",),
    name_patterns=("deepseek-r1-distill-llama",),
    examples=("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B"),
    chat_template="tokenizer (DeepSeek <｜User｜>/<｜Assistant｜> template; the generation prompt opens <think>)",
    reasoning="always-think",
    lora_target_modules=DENSE_TARGETS,
    experts_adapted="n/a",
    sizes_b={"deepseek-ai/DeepSeek-R1-Distill-Llama-8B": (8.0, 8.0),
             "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": (70.6, 70.6)},
))
register(ModelFamily(
    name="deepseek-v3",
    description="DeepSeek-V3 / R1 (671B MoE, multi-head latent attention, FP8 block-quantized weights)",
    model_types=("deepseek_v3",),
    name_patterns=("deepseek-v3", "deepseek-r1"),
    examples=("deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3-0324"),
    chat_template="tokenizer (DeepSeek <｜User｜>/<｜Assistant｜> template; R1 opens <think>)",
    reasoning="always-think",  # R1; V3 ignores the setting (recipes set reasoning: none)
    lora_target_modules=MLA_TARGETS,
    experts_adapted="none",
    weights_dtype="float8_e4m3fn (128x128 blocks, weight_scale_inv)",
    sizes_b={"deepseek-ai/DeepSeek-V3": (671.0, 37.0), "deepseek-ai/DeepSeek-R1": (671.0, 37.0)},
    moe_block_classes=("DeepseekV3MoE",),
    expert_parameters=ROUTED_EXPERT_PARAMETERS,
    notes="LoRA on all MLA projections. peft 0.21 with transformers 5 rewrites the names gate_proj/up_proj/"
          "down_proj on deepseek_v3 to the fused routed experts, so the dense MLPs and shared experts cannot "
          "be targeted by name; routers and the 256 routed experts stay frozen unless a recipe adds "
          "ROUTED_EXPERT_PARAMETERS to lora_target_parameters.",
))
register(ModelFamily(
    name="kimi-k2",
    description="Kimi-K2 (1T MoE on the DeepSeek-V3 architecture, FP8 weights, tiktoken tokenizer)",
    model_types=("kimi_k2",),
    name_patterns=("kimi-k2",),
    examples=("moonshotai/Kimi-K2-Instruct",),
    chat_template="tokenizer (remote code: TikTokenTokenizer; <|im_user|>/<|im_assistant|> template)",
    reasoning="none",
    lora_target_modules=MLA_TARGETS,
    experts_adapted="none",
    needs_remote_code=True,
    native_model_type="deepseek_v3",
    weights_dtype="float8_e4m3fn (128x128 blocks, weight_scale_inv)",
    sizes_b={"moonshotai/Kimi-K2-Instruct": (1026.0, 32.6)},
    moe_block_classes=("DeepseekV3MoE",),   # the native class it loads as
    expert_parameters=ROUTED_EXPERT_PARAMETERS,
    notes="Architecture is DeepseekV3 (384 routed experts, 1 shared, 64 heads, first layer dense, one expert "
          "group). The weights load through transformers' native DeepseekV3 class (config re-typed, the repo's "
          "modelling code never runs; it imports is_torch_fx_available, gone in transformers 5). Only the "
          "tiktoken tokenizer needs remote code: pinned model_revision plus --trust-remote-code.",
))


def get_family(name: str) -> ModelFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}") from None


def detect_family(model_name_or_path: str, model_type: str | None = None) -> ModelFamily:
    """Pick the family from the hub id / path (most specific pattern first), else from model_type."""
    lowered = model_name_or_path.lower()
    matches = [(len(p), f) for f in FAMILIES.values() for p in f.name_patterns if p in lowered]
    if matches:
        return max(matches, key=lambda m: m[0])[1]
    if model_type is not None:
        for family in FAMILIES.values():
            if model_type in family.model_types:
                return family
    raise KeyError(f"cannot tell the model family of {model_name_or_path!r} (model_type={model_type!r}); "
                   f"set `family:` in the recipe to one of {', '.join(sorted(FAMILIES))}")
