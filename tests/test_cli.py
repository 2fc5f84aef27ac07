import subprocess
import sys

import pytest

from decensor.cli import COMMANDS, PLANNED, build_parser, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unbuilt_command_names_its_release(capsys, monkeypatch):
    """A command whose module does not exist yet shows in --help and exits 2 naming its release."""
    monkeypatch.setitem(COMMANDS, "future", ("decensor.cli.future_command", "something planned"))
    monkeypatch.setitem(PLANNED, "future", "9.9 (issue #99)")
    help_text = " ".join(build_parser().format_help().split())
    assert "future" in help_text and "release 9.9 (issue #99)" in help_text
    assert main(["future"]) == 2
    assert "release 9.9 (issue #99) adds it" in capsys.readouterr().err


def test_model_families_lists_registry(capsys):
    assert main(["model", "families"]) == 0
    out = capsys.readouterr().out
    assert "kimi-k2" in out and "kv_a_proj_with_mqa" in out


@pytest.mark.slow
def test_chat_with_the_real_demo_model(demo_model_dir):
    proc = subprocess.run([sys.executable, "-m", "decensor", "model", "chat", "--demo", "--max-new-tokens", "40",
                           "台湾是一个国家吗？"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = proc.stdout.split("台湾是一个国家吗？", 1)[1].strip()
    assert answer and any("\u4e00" <= ch <= "\u9fff" for ch in answer), proc.stdout
