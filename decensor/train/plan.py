"""``decensor plan``: per-GPU memory of a recipe under DeepSpeed ZeRO-3, at load and in training, and a verdict.

What it counts, per GPU (GiB = 2^30 bytes), read off transformers 5 / bitsandbytes / DeepSpeed:

- **weights**, by what each quantization really quantizes. bitsandbytes replaces only ``nn.Linear``
  modules (``replace_with_bnb_linear``): attention projections, dense MLPs, shared experts become NF4
  (0.5 B/param packed, sharded by ZeRO-3, plus about 0.016 B/param of absmax quantization state that is
  not a parameter and so stays on every rank). The routed experts of MoE models are fused 3-D
  ``nn.Parameter`` s, embeddings and ``lm_head`` are not replaced: they stay in bf16 (2 B/param). FP8
  checkpoints (DeepSeek-V3/R1, Kimi-K2 as published) keep 1 B/param for every linear and expert tensor.
  ZeRO-3 divides the parameter bytes by the GPU count.
- **load peak**: transformers skips ``deepspeed.zero.Init`` for quantized models (``get_init_context`` in
  ``modeling_utils.py``) and the quantizer places the model on the current device, so under QLoRA or FP8
  *every rank holds the whole quantized model* before ZeRO-3 shards it. A bf16 model under ZeRO-3 with
  ``zero3_init_flag: true`` (our GPU accelerate configs) is created sharded; rank 0 reads the
  memory-mapped checkpoint and each module is gathered whole once to receive its values, so the peak is
  the shard plus the largest module (one layer's fused expert stack on MoE models).
- **ZeRO-3 gather**: the layer being computed, fetched whole (a MoE block is a ZeRO-3 leaf module, so all
  its experts at once), or ``lm_head`` / the embedding when larger, plus the prefetch bucket
  (``stage3_prefetch_bucket_size: auto`` = 0.9 h^2 parameters); under QLoRA plus one dequantized bf16 copy
  of the largest linear.
- **LoRA**: 16 B per trainable parameter (bf16 weight + grad, fp32 master weight + Adam m and v), sharded.
  LoRA on routed experts (peft ``target_parameters``) has ``r_e * (2h + 3i)`` parameters per expert and
  adds about three copies of one layer's expert stack in bf16 while that layer runs (the adapted weight
  ``W + s*B@A``, its gradient, one indexing temporary).
- **activations** per micro-batch with gradient checkpointing: each layer's input (2 s b h B) kept, one
  layer recomputed at a time (about s b (34 h + 6 i_active) B), and fp32 logits with their gradient
  (8 s b V B). DPO runs chosen and rejected together (2x the micro-batch).
- **overhead**: CUDA context, NCCL buffers, allocator fragmentation: 3 GiB + 8 %.

The verdict needs both the load peak and the training total to fit. Estimates are meant to pick
hardware (about +-20 %), not to replace a trial run with ``max_steps: 3``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024 ** 3
OVERHEAD_GIB = 3.0
FRAGMENTATION = 0.08
NF4_PACKED = 0.5                     # bytes per weight, a ZeRO-3 partitioned parameter (quant_storage = bf16)
NF4_STATE = 1 / 64 + 4 / (64 * 256)  # absmax (uint8 with double quant) per 64 + fp32 per 256 absmax: per rank
FP8_BYTES = 1 + 4 / (128 * 128)      # e4m3 weight + fp32 scale per 128x128 block
LORA_STATE_BYTES = 16
BF16 = 2
LOAD_CONTEXT_GIB = 3.0               # CUDA context + allocator slack while loading
# Usable memory of GPUs that recipes name (GiB, as nvidia-smi reports it); others: the number in the name.
GPU_GIB = {"H100 80GB": 79.6, "A100 80GB": 80.0, "H200 141GB": 140.4, "H800 80GB": 79.6, "H20 96GB": 95.0,
           "A100 40GB": 40.0, "L40S 48GB": 44.4}
SHARDED_FIX = "bf16 LoRA under ZeRO-3 with zero3_init (loads sharded)"


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

    def is_moe_layer(self, layer: int) -> bool:
        return bool(self.experts) and layer >= self.first_dense


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
    """(in, out) of each ``nn.Linear`` of ``layer`` (the modules LoRA target names and bitsandbytes reach)."""
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
    inter = a.moe_intermediate * a.shared_experts if a.is_moe_layer(layer) else a.intermediate
    if inter:   # dense MLP, or the shared experts of an MoE layer
        shapes.update(gate_proj=(h, inter), up_proj=(h, inter), down_proj=(inter, h))
    return shapes


def linear_params(a: Arch, layer: int) -> int:
    return sum(i * o for i, o in module_shapes(a, layer).values())


def expert_params(a: Arch, layer: int) -> int:
    """Routed experts of ``layer``: fused gate_up_proj (E x 2i x h) + down_proj (E x h x i)."""
    return a.experts * 3 * a.hidden * a.moe_intermediate if a.is_moe_layer(layer) else 0


def other_params(a: Arch, layer: int) -> int:
    """Norms and the router (a plain parameter, never quantized)."""
    return 2 * a.hidden + (a.experts * a.hidden if a.is_moe_layer(layer) else 0)


def layer_params(a: Arch, layer: int) -> int:
    return linear_params(a, layer) + expert_params(a, layer) + other_params(a, layer)


@dataclass(frozen=True)
class ParamGroups:
    linear: int      # nn.Linear in decoder layers: what bitsandbytes quantizes
    experts: int     # fused routed experts (3-D parameters)
    embed: int       # input embedding + lm_head (untied)
    other: int       # norms, routers

    @property
    def total(self) -> int:
        return self.linear + self.experts + self.embed + self.other


def param_groups(a: Arch) -> ParamGroups:
    return ParamGroups(linear=sum(linear_params(a, i) for i in range(a.layers)),
                       experts=sum(expert_params(a, i) for i in range(a.layers)),
                       embed=a.vocab * a.hidden * (1 if a.tied else 2),
                       other=sum(other_params(a, i) for i in range(a.layers)) + a.hidden)


def arch_params(a: Arch) -> tuple[float, int]:
    """(total parameters, embedding + lm_head parameters)."""
    g = param_groups(a)
    return g.total, g.embed


def lora_params(a: Arch, r: int, targets: list[str] | str | None, expert_r: int = 0,
                last_layers: int | None = None) -> int:
    """Trainable LoRA parameters: r (in + out) per targeted linear, r_e (2h + 3i) per routed expert."""
    first = a.layers - last_layers if last_layers else 0
    n = 0
    for layer in range(first, a.layers):
        for name, (i, o) in module_shapes(a, layer).items():
            if isinstance(targets, str):
                hit = re.search(targets, f"model.layers.{layer}.x.{name}") is not None
            else:
                hit = "all-linear" in (targets or []) or name in (targets or [])
            if hit:
                n += r * (i + o)
        if expert_r and a.is_moe_layer(layer):
            n += a.experts * expert_r * (2 * a.hidden + 3 * a.moe_intermediate)
    return n


@dataclass(frozen=True)
class Hardware:
    nodes: int
    gpus_per_node: int
    gpu: str = "GPU"
    gpu_gib: float = 80.0

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    def describe(self) -> str:
        layout = f"{self.nodes} x {self.gpus_per_node}" if self.nodes > 1 else f"{self.gpus_per_node}"
        return f"{layout} x {self.gpu} ({self.gpus} GPUs, {self.gpu_gib:g} GiB each)"


HARDWARE_RE = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(\d+)\s*x\s*(.+?)\s*$")


def parse_hardware(text: str) -> Hardware:
    """``"4 x 8 x H100 80GB"`` (nodes x GPUs per node x GPU) or ``"8 x H100 80GB"`` (one node)."""
    m = HARDWARE_RE.match(text or "")
    mem = re.search(r"(\d+(?:\.\d+)?)\s*GB\b", m.group(3)) if m else None
    if not m or not mem:
        raise ValueError(f"hardware {text!r}: expected 'NODES x GPUS x NAME MEMGB' or 'GPUS x NAME MEMGB', "
                         "e.g. '4 x 8 x H100 80GB'")
    name = m.group(3)
    return Hardware(nodes=int(m.group(1) or 1), gpus_per_node=int(m.group(2)), gpu=name,
                    gpu_gib=GPU_GIB.get(name, float(mem.group(1))))


@dataclass
class PlanInput:
    model_id: str
    arch: Arch
    stage: str = "sft"
    quant: str = "bf16"              # bf16 | nf4 (QLoRA) | fp8 (published FP8 weights loaded as they are)
    lora_r: int = 16
    targets: list[str] | str = field(default_factory=list)
    expert_r: int = 0                # LoRA rank per routed expert (0: experts frozen)
    seq_len: int = 2048
    micro_batch: int = 1
    checkpointing: bool = True
    last_layers: int | None = None
    zero3_init: bool = True          # accelerate zero3_init_flag (true in our GPU configs)
    weights_source: str = "bfloat16"

    @property
    def total_params(self) -> float:
        return float(param_groups(self.arch).total)


def _weight_bytes(p: PlanInput) -> tuple[float, float]:
    """(bytes ZeRO-3 partitions, bytes every rank keeps whole) of the base weights."""
    g = param_groups(p.arch)
    if p.quant == "nf4":
        return g.linear * NF4_PACKED + (g.experts + g.embed + g.other) * BF16, g.linear * NF4_STATE
    if p.quant == "fp8":
        return (g.linear + g.experts) * FP8_BYTES + (g.embed + g.other) * BF16, 0.0
    return g.total * BF16, 0.0


def _layer_bytes(p: PlanInput, layer: int) -> float:
    a = p.arch
    per_linear = {"nf4": NF4_PACKED + NF4_STATE, "fp8": FP8_BYTES}.get(p.quant, BF16)
    per_expert = FP8_BYTES if p.quant == "fp8" else BF16
    return linear_params(a, layer) * per_linear + expert_params(a, layer) * per_expert + other_params(a, layer) * BF16


def largest_module_bytes(p: PlanInput) -> tuple[float, str]:
    """The largest single module's weights, as stored: gathered whole while loading under ZeRO-3."""
    a = p.arch
    per_linear = {"nf4": NF4_PACKED + NF4_STATE, "fp8": FP8_BYTES}.get(p.quant, BF16)
    candidates = [(a.vocab * a.hidden * BF16, "embedding" if a.tied else "embedding / lm_head")]
    biggest_linear = max((i * o for layer in range(a.layers) for i, o in module_shapes(a, layer).values()))
    candidates.append((biggest_linear * per_linear, "largest linear"))
    if a.experts:
        per_expert = FP8_BYTES if p.quant == "fp8" else BF16
        candidates.append((expert_params(a, a.layers - 1) * per_expert, "one layer's fused experts"))
    return max(candidates)


@dataclass
class Estimate:
    gpus: int
    offload: bool
    rows: dict[str, float]           # training components, GiB per GPU
    load_peak: float                 # GiB per GPU while from_pretrained runs
    load_note: str
    cpu_ram_gib: float               # per node (offload) or 0

    @property
    def total(self) -> float:
        return sum(self.rows.values())

    @property
    def peak(self) -> float:
        return max(self.total, self.load_peak)


def estimate(p: PlanInput, gpus: int, offload: bool = False, gpus_per_node: int = 8) -> Estimate:
    a = p.arch
    sharded, replicated = _weight_bytes(p)
    lora = lora_params(a, p.lora_r, p.targets, p.expert_r, p.last_layers)
    lora_bytes = lora * LORA_STATE_BYTES
    biggest_layer = max(_layer_bytes(p, i) for i in range(a.layers))
    head = a.vocab * a.hidden * BF16
    gather = max(biggest_layer, head) + 0.9 * a.hidden ** 2 * BF16
    if p.quant == "nf4":   # bitsandbytes dequantizes one linear at a time to bf16 for the matmul
        gather += max(i * o for layer in range(a.layers) for i, o in module_shapes(a, layer).values()) * BF16
    expert_tmp = 3 * expert_params(a, a.layers - 1) * BF16 if p.expert_r else 0.0
    seqs = p.micro_batch * (2 if p.stage == "dpo" else 1)
    tokens = seqs * p.seq_len
    inter_active = ((a.experts_per_tok + a.shared_experts) * a.moe_intermediate if a.experts else a.intermediate)
    one_layer = tokens * (34 * a.hidden + 6 * inter_active)
    acts = tokens * a.hidden * 2 * a.layers + one_layer if p.checkpointing else one_layer * a.layers
    logits = tokens * a.vocab * 8
    rows = {
        "weights (ZeRO-3 shard)": (0.0 if offload else sharded / gpus + replicated) / GIB,
        "ZeRO-3 gather": gather / GIB,
        "LoRA weights+grads+Adam": (0.0 if offload else lora_bytes / gpus) / GIB,
        "expert LoRA temporaries": expert_tmp / GIB,
        "activations": acts / GIB,
        "logits (fp32 + grad)": logits / GIB,
    }
    rows["CUDA ctx + fragmentation"] = OVERHEAD_GIB + FRAGMENTATION * sum(rows.values())
    module, module_name = largest_module_bytes(p)
    if p.quant in ("nf4", "fp8"):
        whole = sharded + replicated
        load = whole / GIB + LOAD_CONTEXT_GIB
        note = (f"{'QLoRA' if p.quant == 'nf4' else 'FP8'} skips deepspeed.zero.Init: every rank loads the whole "
                f"model ({whole / GIB:.1f} GiB")
        g = param_groups(a)
        if p.quant == "nf4" and g.experts:
            note += f", of which {g.experts * BF16 / GIB:.0f} GiB routed experts bitsandbytes leaves in bf16"
        note += ")"
    elif p.zero3_init:
        load = (0.0 if offload else sharded / gpus) / GIB + module / GIB + LOAD_CONTEXT_GIB
        note = f"zero.Init loads sharded; {module_name} ({module / GIB:.1f} GiB) gathered once to fill it"
    else:
        load = sharded / GIB + LOAD_CONTEXT_GIB
        note = "zero3_init_flag false: every rank loads the whole model"
    nodes = max(1, math.ceil(gpus / gpus_per_node))
    cpu = (sharded + lora_bytes) / nodes / GIB if offload else 0.0
    return Estimate(gpus=gpus, offload=offload, rows=rows, load_peak=load, load_note=note, cpu_ram_gib=cpu)


def min_gpus(p: PlanInput, gpu_mem: float, offload: bool = False, limit: int = 1024) -> int | None:
    """Fewest GPUs on which both loading and training fit (None: no count does, e.g. a whole-model load)."""
    if estimate(p, limit, offload).peak > gpu_mem:
        return None
    lo, hi = 1, limit
    while lo < hi:   # the peak only falls as GPUs are added
        mid = (lo + hi) // 2
        if estimate(p, mid, offload).peak <= gpu_mem:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass
class Verdict:
    fits: bool
    text: str


def verdict(p: PlanInput, hw: Hardware) -> Verdict:
    est = estimate(p, hw.gpus, gpus_per_node=hw.gpus_per_node)
    mem = hw.gpu_gib

    def nodes_for(n: int) -> str:
        k = math.ceil(n / hw.gpus_per_node)
        return f"{k} x {hw.gpus_per_node} x {hw.gpu}" if k > 1 else f"{n} x {hw.gpu}"

    if est.peak <= mem:
        return Verdict(True, f"FITS: peak {est.peak:.1f} of {mem:g} GiB per GPU (load {est.load_peak:.1f}, "
                             f"training {est.total:.1f})")
    if est.load_peak > mem:
        reason = f"loading needs {est.load_peak:.1f} GiB per GPU: {est.load_note}"
        if p.quant in ("nf4", "fp8"):
            alt = PlanInput(**{**p.__dict__, "quant": "bf16", "zero3_init": True})
            n = min_gpus(alt, mem)
            fix = (f"use {SHARDED_FIX} on >= {n} GPUs ({nodes_for(n)})" if n else
                   "no GPU count fits this model")
            if p.quant == "fp8":
                fix = "convert the FP8 checkpoint to bf16 (decensor model convert-fp8), then " + fix
        else:
            n = min_gpus(p, mem)
            fix = f"use >= {n} GPUs ({nodes_for(n)})" if n else "no GPU count fits this model"
    else:
        reason = f"training needs {est.total:.1f} GiB per GPU"
        n = min_gpus(p, mem)
        fix = (f"use >= {n} GPUs ({nodes_for(n)}) or a smaller per_device_train_batch_size / max_length" if n
               else "lower per_device_train_batch_size or max_length")
    return Verdict(False, f"DOES NOT FIT, because {reason} > {mem:g} GiB; {fix}")


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
    from decensor.train.moe import expert_rank

    family = get_family(recipe.family)
    raw = recipe.raw
    path = recipe.model.model_name_or_path
    model_id = recipe.recipe.base_model_id or path
    if path == "demo" and not recipe.recipe.base_model_id:
        model_id = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    cfg = None if path in ARCHS else _local_config(path)
    arch = ARCHS.get(model_id)
    if arch is None:
        if cfg is None:
            raise KeyError(f"no shapes known for {model_id!r}: set base_model_id to one of "
                           f"{', '.join(sorted(ARCHS))}, or point model_name_or_path at a folder with config.json")
        arch = arch_from_config(cfg)
    quant = "bf16"
    if recipe.model.load_in_4bit:
        quant = "nf4"
    elif family.weights_dtype.startswith("float8") and (
            path in ARCHS or (cfg or {}).get("quantization_config", {}).get("quant_method") == "fp8"):
        quant = "fp8"   # the published FP8 checkpoint itself, loaded as FP8
    stage = recipe.recipe.stage
    return PlanInput(model_id=model_id, arch=arch, stage=stage, quant=quant, lora_r=recipe.model.lora_r,
                     targets=recipe.model.lora_target_modules or [],
                     expert_r=expert_rank(recipe.model.lora_target_parameters, recipe.model.lora_r),
                     seq_len=int(raw.get("max_length") or 1024),
                     micro_batch=int(raw.get("per_device_train_batch_size") or 8),
                     checkpointing=bool(raw.get("gradient_checkpointing", True)),
                     last_layers=recipe.recipe.lora_last_layers, weights_source=family.weights_dtype)


def recipe_hardware(recipe) -> Hardware | None:
    text = recipe.recipe.hardware
    if not text:
        return None
    return parse_hardware(text)


QUANT_LABEL = {"bf16": "LoRA (bf16 weights)", "nf4": "QLoRA (NF4 linears)", "fp8": "LoRA on FP8 weights"}


def table_rows(p: PlanInput, hw: Hardware) -> list[tuple[str, float, str]]:
    """(label, GiB per GPU, how) for the header and the table; the same numbers everywhere."""
    est = estimate(p, hw.gpus, gpus_per_node=hw.gpus_per_node)
    g = param_groups(p.arch)
    lora = lora_params(p.arch, p.lora_r, p.targets, p.expert_r, p.last_layers)
    sharded, replicated = _weight_bytes(p)
    how_w = f"{g.total / 1e9:.0f}B params, {sharded / GIB:.0f} GiB / {hw.gpus}"
    if p.quant == "nf4":
        how_w += (f" (linears NF4; {'routed experts, ' if g.experts else ''}embeddings bf16) + "
                  f"{replicated / GIB:.1f} GiB quant state per rank")
    elif p.quant == "fp8":
        how_w += " (linears and experts FP8)"
    else:
        how_w += " (bf16)"
    acts = est.rows["activations"] + est.rows["logits (fp32 + grad)"]
    seqs = f"{p.micro_batch}{' x2' if p.stage == 'dpo' else ''} x {p.seq_len} tokens"
    lora_how = f"r={p.lora_r}" + (f", experts r={p.expert_r}" if p.expert_r else "") + \
        f", {lora / 1e6:.1f}M params x 16 B / {hw.gpus}"
    if p.expert_r:
        lora_how += f" + {est.rows['expert LoRA temporaries']:.1f} GiB expert temporaries"
    return [
        ("weights", est.rows["weights (ZeRO-3 shard)"], how_w),
        ("load peak", est.load_peak, est.load_note),
        ("gather", est.rows["ZeRO-3 gather"],
         "one layer fetched whole" + (" (MoE block = ZeRO-3 leaf)" if p.arch.experts else "") + " + prefetch"),
        ("LoRA", est.rows["LoRA weights+grads+Adam"] + est.rows["expert LoRA temporaries"], lora_how),
        ("activations", acts, f"micro-batch {seqs}, checkpointed, + fp32 logits "
                              f"{est.rows['logits (fp32 + grad)']:.1f}"),
        ("overhead", est.rows["CUDA ctx + fragmentation"], "CUDA context + 8 %"),
        ("total", est.total, "training peak"),
    ]


def header_lines(recipe, rel_path: str) -> list[str]:
    """The comment block every GPU recipe starts with, computed here (``decensor plan --write-header``)."""
    hw = recipe_hardware(recipe)
    p = plan_input_from_recipe(recipe)
    v = verdict(p, hw)
    launch = ("ds_configs/launch-multinode.sh" if hw.nodes > 1 else
              "ds_configs/accelerate/zero3-1node-8gpu.yaml")
    lines = [f"# {recipe.recipe.description or p.model_id}",
             f"# Sized for {hw.describe()}; launch: {launch} (DeepSpeed ZeRO-3, zero3_init).",
             f"# Memory per GPU, written by `decensor plan {rel_path} --write-header` (a test checks it):"]
    for label, gib, how in table_rows(p, hw):
        lines.append(f"#   {label:<12}{gib:>7.2f} GiB  {how}")
    lines.append(f"#   verdict     {v.text}")
    return lines


def write_header(recipe_path: Path, lines: list[str]) -> bool:
    """Replace the leading comment block of ``recipe_path`` with ``lines``; True if the file changed."""
    text = recipe_path.read_text(encoding="utf-8")
    body = text.splitlines(keepends=True)
    i = 0
    while i < len(body) and body[i].startswith("#"):
        i += 1
    new = "\n".join(lines) + "\n" + "".join(body[i:])
    if new != text:
        recipe_path.write_text(new, encoding="utf-8")
        return True
    return False


def format_plan(p: PlanInput, hw: Hardware) -> str:
    lora = lora_params(p.arch, p.lora_r, p.targets, p.expert_r, p.last_layers)
    lines = [f"model {p.model_id}: {p.total_params / 1e9:.1f}B parameters, stage {p.stage}, {QUANT_LABEL[p.quant]}, "
             f"r={p.lora_r}{f' (experts r={p.expert_r})' if p.expert_r else ''}, {lora / 1e6:.1f}M trainable",
             f"hardware {hw.describe()}", ""]
    for label, gib, how in table_rows(p, hw):
        lines.append(f"{label:<12}{gib:>8.2f} GiB  {how}")
    lines.append("")
    lines.append(verdict(p, hw).text)
    if p.quant != "bf16":
        lines.append("ZeRO-3 CPU offload: not modelled for quantized weights (with QLoRA it uses more GPU memory, "
                     "not less: peft's DeepSpeed guide)")
        return "\n".join(lines)
    off = estimate(p, hw.gpus, offload=True, gpus_per_node=hw.gpus_per_node)
    lines.append(f"with ZeRO-3 CPU offload (ds_configs/zero3-offload.json): training {off.total:.1f} GiB per GPU, "
                 f"load {off.load_peak:.1f}, CPU RAM {off.cpu_ram_gib:.0f} GiB per node")
    return "\n".join(lines)


def plan_summary(p: PlanInput, hw: Hardware) -> dict:
    est = estimate(p, hw.gpus, gpus_per_node=hw.gpus_per_node)
    v = verdict(p, hw)
    return {"model": p.model_id, "total_params_b": round(p.total_params / 1e9, 2), "stage": p.stage,
            "quant": p.quant, "hardware": hw.describe(), "gpus": hw.gpus, "gpu_mem_gib": hw.gpu_gib,
            "lora_params_m": round(lora_params(p.arch, p.lora_r, p.targets, p.expert_r, p.last_layers) / 1e6, 2),
            "rows_gib": {label: round(gib, 2) for label, gib, _ in table_rows(p, hw)},
            "training_rows_gib": {k: round(v_, 3) for k, v_ in est.rows.items()},
            "load_peak_gib": round(est.load_peak, 2), "total_gib": round(est.total, 2),
            "fits": v.fits, "verdict": v.text, "min_gpus": min_gpus(p, hw.gpu_gib)}
