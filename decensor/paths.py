"""Where decensor keeps things: the cache, run folders and the repository's data."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
EVAL_DIR = REPO_ROOT / "eval"
RECIPES_DIR = REPO_ROOT / "recipes"
DS_CONFIGS_DIR = REPO_ROOT / "ds_configs"


def cache_dir() -> Path:
    """The cache root: ``$DECENSOR_CACHE``, else ``$XDG_CACHE_HOME/decensor``, else ``~/.cache/decensor``."""
    if env := os.environ.get("DECENSOR_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "decensor"


def runs_dir() -> Path:
    """Where run folders go by default: ``$DECENSOR_RUNS``, else ``./runs``."""
    return Path(os.environ.get("DECENSOR_RUNS", "runs")).expanduser()
