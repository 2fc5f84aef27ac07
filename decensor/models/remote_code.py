"""When a model's own Python code may run: consent given on the command line, every time.

``trust_remote_code`` makes transformers import and run Python files that ship with a model. decensor
allows that only when all of these hold:

1. **Consent in this invocation.** The user passed ``--trust-remote-code`` (or, for a local folder,
   ``--remote-code-sha256 HASH``) on the command line of the process that loads the model (read from
   ``sys.argv``, so ``decensor ...``, ``python -m decensor.train`` and ``accelerate launch`` workers all
   see it). A recipe, a run folder's ``recipe.resolved.yaml`` or a downloaded adapter may *ask* for
   remote code; they can never *grant* it. Library callers with their own flag use :func:`consent`.
2. **A real pin for Hub repositories.** ``model_revision`` is a full 40-hex commit that is not a
   placeholder (all zeros, one repeated pattern); branch names and short hashes are refused, because
   the code behind them can change after review.
3. **A hash for local folders.** A local folder ignores the revision, so the pin protects nothing
   there. Its ``*.py`` files are hashed (:func:`code_sha256`); without ``--trust-remote-code`` the
   user must pass exactly that hash (printed in the refusal), so the code they reviewed is the code
   that runs.
4. **No code from elsewhere.** ``auto_map`` entries of the form ``other/repo--module.Class`` make
   transformers fetch code from another repository's default branch, outside any pin: refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from decensor.errors import UserError

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
CONSENT_FLAG = "--trust-remote-code"
HASH_FLAG = "--remote-code-sha256"
# A SHA-1 commit id of 40 random hex digits has, with overwhelming probability, at least 10 distinct
# digits and no short period; fewer distinct digits or a repeating pattern means a placeholder.
MIN_DISTINCT_HEX = 8


class RemoteCodePolicyError(UserError, ValueError):
    """Remote code was asked for without the consent, pin or hash this policy requires."""


@dataclass(frozen=True)
class Consent:
    flag: bool = False                  # --trust-remote-code on this command line
    code_sha256: str | None = None      # --remote-code-sha256 on this command line


_EXPLICIT: list[Consent] = []   # set by consent(); otherwise the process's command line decides


def current_consent() -> Consent:
    if _EXPLICIT:
        return _EXPLICIT[-1]
    return consent_from_argv(sys.argv[1:])


def consent_from_argv(argv: Sequence[str]) -> Consent:
    """The consent given on a command line.

    Accepts ``--trust-remote-code``, ``--trust_remote_code`` (optionally followed by ``true``) and
    ``--remote-code-sha256 HASH`` / ``--remote-code-sha256=HASH``.
    """
    argv = list(argv)
    flag, code_hash = False, None
    for i, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in (CONSENT_FLAG, "--trust_remote_code"):
            following = value or (argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("-") else "")
            flag = following.lower() not in ("false", "0", "no")
        elif name in (HASH_FLAG, "--remote_code_sha256"):
            code_hash = (value or (argv[i + 1] if i + 1 < len(argv) else "")).strip().lower() or None
    return Consent(flag, code_hash)


@contextmanager
def consent(flag: bool = False, code_sha256: str | None = None):
    """Decide consent explicitly for a block, whatever the command line says (tests, library callers)."""
    _EXPLICIT.append(Consent(flag, code_sha256))
    try:
        yield
    finally:
        _EXPLICIT.pop()


def check_revision(revision: str | None, what: str = "the model") -> str:
    """Return ``revision`` if it is a real-looking 40-hex commit id; raise otherwise."""
    if not revision:
        raise RemoteCodePolicyError(
            f"{what} needs remote code, so model_revision must pin the 40-hex commit you reviewed; none is set")
    rev = revision.strip().lower()
    if not COMMIT_SHA.match(rev):
        kind = "a short hash" if re.fullmatch(r"[0-9a-f]{4,39}", rev) else "a branch or tag name"
        raise RemoteCodePolicyError(
            f"{what}: model_revision={revision!r} is {kind}, not a 40-hex commit; the code behind it can change "
            "after you reviewed it. Pin the full commit id.")
    period = next(k for k in range(1, 41) if rev == (rev[:k] * 40)[:40])
    if len(set(rev)) < MIN_DISTINCT_HEX or period <= 20:
        raise RemoteCodePolicyError(
            f"{what}: model_revision={revision!r} is a placeholder, not a commit id. Pin the real commit you "
            "reviewed (the 'Files and versions' history of the repository shows it).")
    return rev


def code_sha256(folder: str | Path) -> str | None:
    """SHA-256 over the names and bytes of every ``*.py`` file under ``folder`` (None if there are none)."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*.py") if p.is_file())
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cross_repo_references(config: dict) -> list[str]:
    """``auto_map`` entries that point into another repository (``owner/repo--module.Class``)."""
    refs = []
    for value in (config.get("auto_map") or {}).values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and "--" in item:
                refs.append(item)
    return refs


def _local_configs(folder: Path) -> list[tuple[str, dict]]:
    found = []
    for name in ("config.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            try:
                found.append((str(path), json.loads(path.read_text(encoding="utf-8"))))
            except ValueError as err:
                raise RemoteCodePolicyError(f"{path}: not valid JSON ({err})") from None
    return found


def _hub_configs(repo_id: str, revision: str) -> list[tuple[str, dict]]:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    found = []
    for name in ("config.json", "tokenizer_config.json"):
        try:
            path = hf_hub_download(repo_id, name, revision=revision)
        except EntryNotFoundError:
            continue
        found.append((f"{repo_id}@{revision[:12]}/{name}", json.loads(Path(path).read_text(encoding="utf-8"))))
    return found


def check_remote_code(model_path: str, trust_remote_code: bool, revision: str | None) -> None:
    """Raise :class:`RemoteCodePolicyError` unless remote code for ``model_path`` is allowed right now."""
    if not trust_remote_code:
        return
    given = current_consent()
    folder = Path(model_path)
    if folder.is_dir():
        actual = code_sha256(folder)
        if not given.flag and given.code_sha256 != actual:
            shown = actual or "(no *.py files)"
            raise RemoteCodePolicyError(
                f"{model_path}: this model asks to run its own Python code and no consent was given on the command "
                f"line. Review the *.py files in that folder, then re-run with {CONSENT_FLAG} or "
                f"{HASH_FLAG} {shown}")
        configs = _local_configs(folder)
    else:
        if not given.flag:
            raise RemoteCodePolicyError(
                f"{model_path}: this model asks to run its own Python code (trust_remote_code), which a recipe, run "
                f"folder or adapter cannot allow. Review the code at the pinned revision, then re-run with "
                f"{CONSENT_FLAG}.")
        revision = check_revision(revision, model_path)
        configs = _hub_configs(model_path, revision)
    for where, config in configs:
        refs = cross_repo_references(config)
        if refs:
            raise RemoteCodePolicyError(
                f"{where}: auto_map points at code in another repository ({', '.join(refs)}); transformers would "
                "fetch it from that repository's default branch, outside the pin. Refused.")
