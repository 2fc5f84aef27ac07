"""Assemble the folder to upload (adapter or merged model + model card; or the dataset + dataset card) and
upload it with ``huggingface_hub.HfApi``.

The token comes from ``HF_TOKEN`` or the ``huggingface_hub`` login (``get_token()``). It is only handed to
``HfApi``; it is never printed, logged or written. As a second line of defence every text file of the
assembled folder is checked for it and scrubbed, and log records are filtered while uploading.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "tokenizer.model", "added_tokens.json", "chat_template.jinja", "chat_template.json",
                   "generation_config.json")
EXTRA_FILES = ("versions.json", "data_files.json")
TEXT_SUFFIXES = (".json", ".md", ".yaml", ".yml", ".txt", ".jinja", ".jsonl", ".csv")


class PushError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------ secrets


def _secrets() -> list[str]:
    """Tokens that must never land in a file or a log line (read here, never returned to a caller that prints)."""
    found = {os.environ.get(k) for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN")}
    try:
        from huggingface_hub import get_token

        found.add(get_token())
    except Exception:  # noqa: BLE001
        pass
    return sorted({s for s in found if s and len(s) >= 8}, key=len, reverse=True)


def scrub_text(text: str, secrets: list[str] | None = None) -> str:
    for s in secrets if secrets is not None else _secrets():
        text = text.replace(s, "<redacted>")
    return text


def scrub_folder(folder: Path) -> int:
    """Replace any token found in the folder's text files; returns how many files were changed."""
    secrets = _secrets()
    changed = 0
    if not secrets:
        return 0
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            clean = scrub_text(text, secrets)
            if clean != text:
                path.write_text(clean, encoding="utf-8", errors="surrogateescape")
                changed += 1
    if changed:
        logger.warning("removed a credential from %d file(s) before upload", changed)
    return changed


class _RedactFilter(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = scrub_text(msg, self.secrets)
        if clean != msg:
            record.msg, record.args = clean, ()
        return True


@contextmanager
def redacted_logging(secrets: list[str]):
    flt = _RedactFilter(secrets)
    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(flt)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(flt)


def get_token() -> str:
    from huggingface_hub import get_token as hf_get_token

    token = os.environ.get("HF_TOKEN") or hf_get_token()
    if not token:
        raise PushError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    return token


# --------------------------------------------------------------------------------------- assembling


def _copy_existing(src: Path, names, dst: Path) -> list[str]:
    copied = []
    for name in names:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            copied.append(name)
    return copied


def _copy_results(run_dir: Path, results: list[str] | None, out: Path) -> None:
    from decensor.hub.model_card import find_results

    base, tuned = find_results(run_dir, results)
    for label, res in (("base", base), ("tuned", tuned)):
        if res:
            (out / "eval").mkdir(exist_ok=True)
            src = Path(res["_dir"]) / "results.json"
            shutil.copy2(src, out / "eval" / f"{label}_results.json")


def prepare_model_folder(run_dir: str | Path, out: str | Path, repo_id: str, merged: bool = False,
                         results: list[str] | None = None, base_model: str | None = None,
                         datasets: list[str] | None = None) -> Path:
    """Write exactly what ``push`` uploads into ``out``."""
    import yaml

    from decensor.hub.model_card import build_model_card, load_recipe

    run_dir, out = Path(run_dir), Path(out)
    missing = [n for n in ADAPTER_FILES if not (run_dir / n).is_file()]
    if missing:
        raise PushError(f"{run_dir}: not a finished run folder (missing {', '.join(missing)})")
    if out.exists() and any(out.iterdir()):
        raise PushError(f"{out} is not empty; give an empty or new folder")
    card = build_model_card(run_dir, repo_id, merged=merged, results=results, base_model=base_model,
                            datasets=datasets)
    out.mkdir(parents=True, exist_ok=True)
    if merged:
        from decensor.models.merge import merge_adapter

        merge_adapter(run_dir, out, base=base_model)
        _copy_existing(run_dir, TOKENIZER_FILES, out)
    else:
        _copy_existing(run_dir, ADAPTER_FILES + TOKENIZER_FILES, out)
    _copy_existing(run_dir, EXTRA_FILES, out)
    recipe = load_recipe(run_dir)  # written from the parsed recipe, credential-like keys removed
    if recipe:
        (out / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True),
                                                  encoding="utf-8")
    _copy_results(run_dir, results, out)
    (out / "README.md").write_text(card, encoding="utf-8")
    scrub_folder(out)
    return out


def prepare_dataset_folder(data_dir: str | Path, out: str | Path, repo_id: str) -> Path:
    from decensor.hub.dataset_card import CONFIGS, build_dataset_card

    data_dir, out = Path(data_dir), Path(out)
    if not any((data_dir / c).is_dir() for c in CONFIGS):
        raise PushError(f"{data_dir}: no sft/ or dpo/ folder")
    # the one row validator (decensor.data.validate), as `data check` and training use it: never publish a
    # malformed, empty or unreviewed file
    from decensor.data.validate import validate_paths

    _, issues = validate_paths([data_dir / c for c in CONFIGS if (data_dir / c).is_dir()])
    errors = [str(i) for i in issues if i.level == "error"]
    if errors:
        raise PushError(f"{data_dir}: {len(errors)} invalid rows or files; fix them first (`decensor data check`):\n"
                        + "\n".join(errors[:20]) + ("\n..." if len(errors) > 20 else ""))
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise PushError(f"{out} is not empty; give an empty or new folder")
    for cfg in CONFIGS:
        if (data_dir / cfg).is_dir():
            (out / cfg).mkdir()
            for f in sorted((data_dir / cfg).glob("*.jsonl")):
                shutil.copy2(f, out / cfg / f.name)
    _copy_existing(data_dir, ("topics.yaml", "SCHEMA.md"), out)
    (out / "README.md").write_text(build_dataset_card(data_dir, repo_id), encoding="utf-8")
    scrub_folder(out)
    return out


# ------------------------------------------------------------------------------------------ upload


def upload(folder: Path, repo_id: str, repo_type: str = "model", private: bool = False,
           commit_message: str = "Upload with decensor") -> str:
    from huggingface_hub import HfApi

    token = get_token()
    secrets = sorted({token, *_secrets()}, key=len, reverse=True)
    with redacted_logging(secrets):
        try:
            api = HfApi(token=token)
            api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
            info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type=repo_type,
                                     commit_message=commit_message)
        except Exception as err:  # noqa: BLE001 - re-raised without anything that could carry the token
            raise PushError(scrub_text(f"upload to {repo_id} failed: {type(err).__name__}: {err}", secrets)) from None
    return str(getattr(info, "commit_url", None) or f"https://huggingface.co/{'datasets/' if repo_type == 'dataset' else ''}{repo_id}")


def push_model(run_dir: str | Path, repo_id: str, merged: bool = False, private: bool = False,
               dry_run: str | Path | None = None, results: list[str] | None = None, base_model: str | None = None,
               datasets: list[str] | None = None) -> str:
    """Upload (or, with ``dry_run``, only write) the adapter/merged model with its card."""
    if dry_run:
        return str(prepare_model_folder(run_dir, dry_run, repo_id, merged, results, base_model, datasets))
    get_token()  # fail before the (possibly long) merge when there is no token
    with tempfile.TemporaryDirectory(prefix="decensor-push-") as tmp:
        folder = prepare_model_folder(run_dir, Path(tmp) / "repo", repo_id, merged, results, base_model, datasets)
        return upload(folder, repo_id, "model", private, f"Upload {'merged model' if merged else 'LoRA adapter'} "
                                                         "with decensor")


def push_dataset(data_dir: str | Path, repo_id: str, private: bool = False, dry_run: str | Path | None = None) -> str:
    if dry_run:
        return str(prepare_dataset_folder(data_dir, dry_run, repo_id))
    get_token()
    with tempfile.TemporaryDirectory(prefix="decensor-push-data-") as tmp:
        folder = prepare_dataset_folder(data_dir, Path(tmp) / "repo", repo_id)
        return upload(folder, repo_id, "dataset", private, "Upload decensor dataset")
