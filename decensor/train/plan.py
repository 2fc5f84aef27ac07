"""``decensor plan``: per-GPU memory of a recipe under DeepSpeed ZeRO-3, and whether it fits.

The estimate adds, per GPU:

- base weights: bf16 (2 B/param) or NF4 under QLoRA (0.5 B/param + 1 B per 64-weight block scale, double-quantized,
  about 0.52 B/param); embeddings, lm_head and norms stay bf16. FP8 checkpoints (DeepSeek-V3, Kimi-K2) are
  counted as dequantized to bf16 (LoRA) or re-quantized from bf16 to NF4 (QLoRA): bitsandbytes and peft
  do not train on FP8 blocks. ZeRO-3 divides all of this by the GPU count.
- ZeRO-3 gather buffers: the full weights of the layers being computed (the current and the prefetched
  layer, all experts of an MoE layer, since fused expert tensors are gathered whole).
- LoRA states: 16 B per trainable parameter (bf16 weight + grad, fp32 master weight + Adam m and v),
  sharded by ZeRO-3.
- activations per micro-batch with gradient checkpointing: each layer's input (2·s·b·h B) kept for the
  backward pass, one layer recomputed at a time (about s·b·(34·h + 6·I) B), and fp32 logits and their grad
  (8·s·b·V B). DPO runs chosen and rejected together (2× the micro-batch); the reference pass runs without grad.
- CUDA context, allocator fragmentation and NCCL buffers: 3 GiB + 8 %.

CPU offload (ZeRO-3 + offload_param + offload_optimizer) keeps only gather buffers, activations and
overhead on the GPU; weights and optimizer states move to CPU RAM (shown per node).

Numbers are planning estimates (±20 %), meant to pick a GPU count and ZeRO config, not to replace a trial
run with ``max_steps: 3``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024 ** 3
MLA_OR_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj", "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj")
OVERHEAD_GIB = 3.0
FRAGMENTATION = 0.08
NF4_BYTES = 0.52
LORA_STATE_BYTES = 16


@dataclass(frozen=True)
class Arch:
    hidden: int
    layers: int
    vocab: int
    intermediate: int                 # dense MLP width
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool = False
    experts: int = 0                  # routed experts per MoE layer
    experts_per_tok: int = 0
    moe_intermediate: int = 0
    shared_experts: int = 0
    first_dense: int = 0              # leading dense layers of an MoE model
    q_lora_rank: int = 0              # MLA (DeepSeek-V3 / Kimi-K2)
    kv_lora_rank: int = 0
    qk_nope: int = 0
    qk_rope: int = 0
    v_head: int = 0

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.first_dense if self.experts else 0


# Shapes of the models the recipes name (from their config.json files).
ARCHS: dict[str, Arch] = {
    "Qwen/Qwen2.5-Coder-0.5B-Instruct": Arch(896, 24, 151936, 4864, 14, 2, 64, tied=True),
    "Qwen/Qwen2.5-7B-Instruct": Arch(3584, 28, 152064, 18944, 28, 4, 128),
    "Qwen/Qwen2.5-72B-Instruct": Arch(8192, 80, 152064, 29568, 64, 8, 128),
    "Qwen/Qwen3-8B": Arch(4096, 36, 151936, 12288, 32, 8, 128),
    "Qwen/Qwen3-32B": Arch(5120, 64, 151936, 25600, 64, 8, 128),
    "Qwen/Qwen3-30B-A3B": Arch(2048, 48, 151936, 6144, 32, 4, 128, experts=128, experts_per_tok=8,
                               moe_intermediate=768),
    "Qwen/Qwen3-235B-A22B": Arch(4096, 94, 151936, 12288, 64, 4, 128, experts=128, experts_per_tok=8,
                                 moe_intermediate=1536),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": Arch(3584, 28, 152064, 18944, 28, 4, 128),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": Arch(5120, 64, 152064, 27648, 40, 8, 128),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": Arch(4096, 32, 128256, 14336, 32, 8, 128),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": Arch(8192, 80, 128256, 28672, 64, 8, 128),
    "deepseek-ai/DeepSeek-V3": Arch(7168, 61, 129280, 18432, 128, 128, 192, experts=256, experts_per_tok=8,
                                    moe_intermediate=2048, shared_experts=1, first_dense=3, q_lora_rank=1536,
                                    kv_lora_rank=512, qk_nope=128, qk_rope=64, v_head=128),
    "moonshotai/Kimi-K2-Instruct": Arch(7168, 61, 163840, 18432, 64, 64, 192, experts=384, experts_per_tok=8,
                                        moe_intermediate=2048, shared_experts=1, first_dense=1, q_lora_rank=1536,
                                        kv_lora_rank=512, qk_nope=128, qk_rope=64, v_head=128),
}
ARCHS["deepseek-ai/DeepSeek-R1"] = ARCHS["deepseek-ai/DeepSeek-V3"]
ARCHS["deepseek-ai/DeepSeek-V3-0324"] = ARCHS["deepseek-ai/DeepSeek-V3"]


def arch_from_config(cfg: dict) -> Arch:
    """An :class:`Arch` from a transformers config.json mapping."""
    h = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    experts = cfg.get("n_routed_experts") or cfg.get("num_experts") or 0
    return Arch(
        hidden=h, layers=cfg["num_hidden_layers"], vocab=cfg["vocab_size"],
        intermediate=cfg.get("intermediate_size", 4 * h), heads=heads,
        kv_heads=cfg.get("num_key_value_heads") or heads, head_dim=cfg.get("head_dim") or h // heads,
        tied=bool(cfg.get("tie_word_embeddings", False)), experts=experts,
        experts_per_tok=cfg.get("num_experts_per_tok", 0) if experts else 0,
        moe_intermediate=cfg.get("moe_intermediate_size", 0) if experts else 0,
        shared_experts=cfg.get("n_shared_experts") or 0, first_dense=cfg.get("first_k_dense_replace", 0) or 0,
        q_lora_rank=cfg.get("q_lora_rank") or 0, kv_lora_rank=cfg.get("kv_lora_rank") or 0,
        qk_nope=cfg.get("qk_nope_head_dim") or 0, qk_rope=cfg.get("qk_rope_head_dim") or 0,
        v_head=cfg.get("v_head_dim") or 0)


def module_shapes(a: Arch, layer: int) -> dict[str, tuple[int, int]]:
    """(in, out) of each linear module of ``layer`` that a LoRA target name can reach."""
    h = a.hidden
    shapes: dict[str, tuple[int, int]] = {}
    if a.mla:
        q_out = a.heads * (a.qk_nope + a.qk_rope)
        shapes.update(q_a_proj=(h, a.q_lora_rank), q_b_proj=(a.q_lora_rank, q_out),
                      kv_a_proj_with_mqa=(h, a.kv_lora_rank + a.qk_rope),
                      kv_b_proj=(a.kv_lora_rank, a.heads * (a.qk_nope + a.v_head)),
                      o_proj=(a.heads * a.v_head, h))
    else:
        shapes.update(q_proj=(h, a.heads * a.head_dim), k_proj=(h, a.kv_heads * a.head_dim),
                      v_proj=(h, a.kv_heads * a.head_dim), o_proj=(a.heads * a.head_dim, h))
    if a.experts and layer >= a.first_dense:
        inter = a.moe_intermediate * a.shared_experts   # only shared experts are nn.Linear modules
    else:
        inter = a.intermediate
    if inter:
        shapes.update(gate_proj=(h, inter), up_proj=(h, inter), down_proj=(inter, h))
    return shapes


def layer_params(a: Arch, layer: int) -> int:
    """All weights of one decoder layer (routed experts included)."""
    n = sum(i * o for i, o in module_shapes(a, layer).values())
    if a.experts and layer >= a.first_dense:
        n += a.experts * 3 * a.hidden * a.moe_intermediate + a.experts * a.hidden   # experts + router
    return n + 2 * a.hidden


def arch_params(a: Arch) -> tuple[float, int]:
    """(total parameters, embedding + lm_head parameters)."""
    embed = a.vocab * a.hidden * (1 if a.tied else 2)
    return sum(layer_params(a, i) for i in range(a.layers)) + embed, embed


def lora_params(a: Arch, r: int, targets: list[str] | str | None, routed_experts: bool = False,
                last_layers: int | None = None) -> int:
    if isinstance(targets, str):   # a regex (kimi-k2 recipes): count attention + shared-expert projections
        targets = list(MLA_OR_ATTN) + ["gate_proj", "up_proj", "down_proj"]
    targets = list(targets or [])
    n = 0
    first = a.layers - last_layers if last_layers else 0
    for layer in range(first, a.layers):
        for name, (i, o) in module_shapes(a, layer).items():
            if "all-linear" in targets or name in targets:
                n += r * (i + o)
        if routed_experts and a.experts and layer >= a.first_dense:
            n += a.experts * r * 3 * (a.hidden + a.moe_intermediate)
    return n


@dataclass
class PlanInput:
    model_id: str
    arch: Arch
    total_params: float
    stage: str = "sft"
    quant: str = "bf16"              # bf16 | nf4
    lora_r: int = 16
    targets: list[str] = field(default_factory=list)
    routed_experts: bool = False
    seq_len: int = 2048
    micro_batch: int = 1
    checkpointing: bool = True
    weights_source: str = "bfloat16"
    last_layers: int | None = None


@dataclass
class Estimate:
    gpus: int
    offload: bool
    rows: dict[str, float]           # component -> GiB per GPU
    cpu_ram_gib: float               # per node (offload) or 0

    @property
    def total(self) -> float:
        return sum(self.rows.values())


def estimate(p: PlanInput, gpus: int, offload: bool = False, gpus_per_node: int = 8) -> Estimate:
    a = p.arch
    _, embed = arch_params(a)
    body = max(p.total_params - embed, 0.0)
    if p.quant == "nf4":
        weight_bytes = body * NF4_BYTES + embed * 2
        bytes_per_param = NF4_BYTES
    else:
        weight_bytes = p.total_params * 2
        bytes_per_param = 2.0
    lora = lora_params(a, p.lora_r, p.targets, p.routed_experts, p.last_layers)
    lora_bytes = lora * LORA_STATE_BYTES
    # ZeRO-3 gathers whole layers: the one computing and the one prefetched.
    biggest = max(layer_params(a, i) for i in range(a.layers))
    gather = 2 * biggest * bytes_per_param
    seqs = p.micro_batch * (2 if p.stage == "dpo" else 1)
    tokens = seqs * p.seq_len
    inter_active = (a.experts_per_tok * a.moe_intermediate + a.shared_experts * a.moe_intermediate
                    if a.experts else a.intermediate)
    one_layer = tokens * (34 * a.hidden + 6 * inter_active)
    if p.checkpointing:
        acts = tokens * a.hidden * 2 * a.layers + one_layer
    else:
        acts = one_layer * a.layers
    logits = tokens * a.vocab * 8
    rows = {
        "weights": 0.0 if offload else weight_bytes / gpus / GIB,
        "ZeRO-3 gather buffers": gather / GIB,
        "LoRA weights+grads+Adam": 0.0 if offload else lora_bytes / gpus / GIB,
        "activations": acts / GIB,
        "logits (fp32 + grad)": logits / GIB,
    }
    subtotal = sum(rows.values())
    rows["CUDA ctx + fragmentation"] = OVERHEAD_GIB + FRAGMENTATION * subtotal
    nodes = max(1, math.ceil(gpus / gpus_per_node))
    cpu = (weight_bytes + lora_bytes) / nodes / GIB if offload else 0.0
    return Estimate(gpus=gpus, offload=offload, rows=rows, cpu_ram_gib=cpu)


def min_gpus(p: PlanInput, gpu_mem: float, offload: bool = False, limit: int = 1024) -> int | None:
    for n in range(1, limit + 1):
        if estimate(p, n, offload).total <= gpu_mem:
            return n
    return None


def _local_config(path: str) -> dict | None:
    from decensor.models.loading import DEMO_MODEL_ALIAS

    if path == DEMO_MODEL_ALIAS:
        from decensor.models.demo_model import demo_model_dir

        folder = demo_model_dir()
    else:
        folder = Path(path)
    cfg = folder / "config.json"
    if cfg.is_file():
        return json.loads(cfg.read_text())
    return None


def plan_input_from_recipe(recipe) -> PlanInput:
    """Facts for the estimate from a parsed :class:`~decensor.train.config.Recipe` (training args not needed)."""
    from decensor.models.registry import get_family

    family = get_family(recipe.family)
    raw = recipe.raw
    model_id = recipe.recipe.base_model_id or recipe.model.model_name_or_path
    if recipe.model.model_name_or_path == "demo" and not recipe.recipe.base_model_id:
        model_id = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    arch = ARCHS.get(model_id)
    if arch is None:
        cfg = _local_config(recipe.model.model_name_or_path)
        if cfg is None:
            raise KeyError(f"no shapes known for {model_id!r}: set base_model_id to one of "
                           f"{', '.join(sorted(ARCHS))}, or point model_name_or_path at a folder with config.json")
        arch = arch_from_config(cfg)
    total = family.sizes_b.get(model_id, (None, None))[0]
    total = total * 1e9 if total else arch_params(arch)[0]
    stage = recipe.recipe.stage
    seq = raw.get("max_length") or (1024 if stage == "dpo" else 1024)
    targets = recipe.model.lora_target_modules or []
    routed = bool(recipe.model.lora_target_parameters)
    return PlanInput(model_id=model_id, arch=arch, total_params=total, stage=stage,
                     quant="nf4" if recipe.model.load_in_4bit else "bf16", lora_r=recipe.model.lora_r,
                     targets=targets, routed_experts=routed, seq_len=int(seq),
                     micro_batch=int(raw.get("per_device_train_batch_size", 8 if stage == "sft" else 8)),
                     checkpointing=bool(raw.get("gradient_checkpointing", True)),
                     weights_source=family.weights_dtype, last_layers=recipe.recipe.lora_last_layers)


def format_plan(p: PlanInput, gpus: int, gpu_mem: float) -> str:
    plain, off = estimate(p, gpus), estimate(p, gpus, offload=True)
    lora = lora_params(p.arch, p.lora_r, p.targets, p.routed_experts, p.last_layers)
    lines = [
        f"model {p.model_id}: {p.total_params / 1e9:.1f}B parameters, stage {p.stage}, "
        f"{'QLoRA (NF4 weights)' if p.quant == 'nf4' else 'LoRA (bf16 weights)'}, r={p.lora_r}, "
        f"{lora / 1e6:.1f}M trainable",
        f"micro-batch {p.micro_batch} x {p.seq_len} tokens{' x2 (chosen+rejected)' if p.stage == 'dpo' else ''}, "
        f"gradient checkpointing {'on' if p.checkpointing else 'off'}",
    ]
    if p.weights_source.startswith("float8"):
        lines.append(f"published weights are {p.weights_source}: counted as dequantized to bf16"
                     + (" then quantized to NF4" if p.quant == "nf4" else ""))
    lines.append("")
    width = max(len(k) for k in plain.rows) + 2
    lines.append(f"{'per GPU (GiB), ' + str(gpus) + ' GPUs':<{width}} {'ZeRO-3':>10} {'+CPU offload':>13}")
    for key in plain.rows:
        lines.append(f"{key:<{width}} {plain.rows[key]:>10.1f} {off.rows[key]:>13.1f}")
    lines.append(f"{'total':<{width}} {plain.total:>10.1f} {off.total:>13.1f}")
    lines.append(f"{'CPU RAM per node':<{width}} {'-':>10} {off.cpu_ram_gib:>13.0f}")
    lines.append("")
    for name, est, offload in (("ZeRO-3", plain, False), ("ZeRO-3 + CPU offload", off, True)):
        n = min_gpus(p, gpu_mem, offload)
        verdict = "FITS" if est.total <= gpu_mem else "DOES NOT FIT"
        lines.append(f"{name}: {est.total:.1f} GiB of {gpu_mem:g} GiB per GPU on {gpus} GPUs -> {verdict}; "
                     f"minimum GPUs that fit: {n if n else 'none up to 1024'}")
    return "\n".join(lines)


def plan_summary(p: PlanInput, gpus: int, gpu_mem: float) -> dict:
    plain, off = estimate(p, gpus), estimate(p, gpus, offload=True)
    return {"model": p.model_id, "total_params_b": round(p.total_params / 1e9, 2), "stage": p.stage,
            "quant": p.quant, "gpus": gpus, "gpu_mem_gib": gpu_mem,
            "lora_params_m": round(lora_params(p.arch, p.lora_r, p.targets, p.routed_experts, p.last_layers) / 1e6, 2),
            "zero3": {"rows": plain.rows, "total": plain.total, "fits": plain.total <= gpu_mem,
                      "min_gpus": min_gpus(p, gpu_mem)},
            "zero3_offload": {"rows": off.rows, "total": off.total, "fits": off.total <= gpu_mem,
                              "cpu_ram_gib_per_node": off.cpu_ram_gib, "min_gpus": min_gpus(p, gpu_mem, True)}}
