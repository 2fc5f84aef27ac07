"""``decensor data check``: validate the curated SFT and DPO files, find duplicates and eval leaks.

What is checked (every error is located as ``path:line: field: message``):

- each line is a JSON object (:func:`~decensor.data.jsonl.read_jsonl`);
- required fields, ``lang`` (en / zh / zh-Hant), ``kind`` (sensitive / innocent / harmful-refusal),
  ``pair_id`` = ``<topic>-<3 digits>``, ``id`` = ``pair_id`` + ``-<lang>`` (DPO rows may add a tag,
  e.g. ``-mined``), unique ids, ``topic`` in ``data/topics.yaml`` with a compatible kind
  (harmful-refusal rows use harmful topics);
- message lists: optional leading ``system``, then ``user`` / ``assistant`` alternating, ending with
  ``assistant`` (SFT) or ``user`` (DPO prompt); no empty or repeated turns;
- the language tag matches the text: a ``zh`` row is mostly CJK, an ``en`` row has little CJK
  (share of CJK characters among letters, see :data:`ZH_MIN_CJK` and :data:`EN_MAX_CJK`);
- ``sources``: a non-empty list of non-empty strings, no "n/a";
- every pair has both ``en`` and ``zh`` rows with the same topic and kind;
- DPO rows: a matching SFT row (same id up to the tag), same prompt, ``chosen`` = the SFT answer,
  ``rejected`` one non-empty assistant turn different from ``chosen``, ``rejected_type`` valid for the
  kind; one curated DPO row per SFT row;
- duplicates among training prompts: exact (after normalisation: NFKC, case-folding, punctuation and
  whitespace removed) and near duplicates: Jaccard similarity of character n-gram sets
  (:data:`NGRAM` = 3 characters for CJK-heavy text, 5 otherwise) at or above
  :data:`NEAR_DUP_THRESHOLD` (0.5; pairs from :data:`REVIEW_THRESHOLD` = 0.35 up are warnings to
  review). Calibrated on the shipped data: 0.5 and above were all the same question reworded;
  0.35-0.5 are mostly close paraphrases but also different questions on the same narrow fact;
- decontamination: no training prompt equals or nearly equals an evaluation prompt (eval/suites),
  with the same measure.

Warnings (printed, not failures): answer lengths outside the SCHEMA.md ranges, exact duplicate answers,
possible paraphrases (see above), and with ``judge=True`` (``--judge``) curated answers that the rule
judge flags (refusal, Party formulations, propaganda framing): mostly the judge's false positives on
quoted, attributed Party terms, which is worth knowing when reading evaluation results.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decensor.data.jsonl import DataError, jsonl_files, read_jsonl
from decensor.data.topics import load_topics
from decensor.paths import DATA_DIR, EVAL_DIR, REPO_ROOT

LANGS = ("en", "zh", "zh-Hant")
SFT_KINDS = ("sensitive", "innocent", "harmful-refusal")
TOPIC_KIND = {"sensitive": "sensitive", "innocent": "innocent", "harmful-refusal": "harmful"}
REJECTED_TYPES = ("refusal", "official-line", "propaganda-framing", "harmful-compliance")
# Which rejected_type fits which kind. Innocent rows may be rejected as refusals too (over-refusal is a
# real failure of these models and mining finds it).
REJECTED_FOR_KIND = {
    "sensitive": ("refusal", "official-line"),
    "innocent": ("propaganda-framing", "refusal"),
    "harmful-refusal": ("harmful-compliance",),
}
SFT_FIELDS = ("id", "pair_id", "lang", "topic", "kind", "messages", "sources")
DPO_FIELDS = ("id", "pair_id", "lang", "topic", "kind", "prompt", "chosen", "rejected", "rejected_type", "sources")

NEAR_DUP_THRESHOLD = 0.5   # Jaccard similarity of character n-gram sets: an error at or above this
REVIEW_THRESHOLD = 0.35    # ... a warning ("review: possible paraphrase") at or above this
NGRAM = {"cjk": 3, "latin": 5}
ZH_MIN_CJK = 0.5           # share of CJK characters among letters+CJK in a zh row
EN_MAX_CJK = 0.1           # ... at most, in an en row
EN_WORDS = (60, 180)
ZH_CHARS = (100, 300)
LENGTH_SLACK = 0.1         # warn only when more than 10% outside the range
PAIR_ID = re.compile(r"^(?P<topic>[a-z0-9][a-z0-9-]*)-(?P<num>\d{3})$")
TAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def split_dpo_id(d: dict) -> tuple[str, str | None] | None:
    """``(pair_id-lang, tag or None)`` for a DPO row whose id is ``pair_id-lang[-tag]``; None otherwise."""
    ident, pair_id, lang = d.get("id"), d.get("pair_id"), d.get("lang")
    if not all(isinstance(x, str) for x in (ident, pair_id, lang)):
        return None
    base = f"{pair_id}-{lang}"
    if ident == base:
        return base, None
    if ident.startswith(base + "-") and TAG.match(ident[len(base) + 1:]):
        return base, ident[len(base) + 1:]
    return None
BAD_SOURCE = re.compile(r"^\s*(?:n/?a|none|tbd|todo|unknown|-)\b", re.I)


def _rel(path: str | Path) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        try:
            return str(p.resolve().relative_to(REPO_ROOT))
        except ValueError:
            return str(p)


@dataclass(frozen=True)
class Issue:
    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


@dataclass
class Row:
    path: str
    line: int
    data: dict
    stage: str  # sft | dpo

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class CheckReport:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    sft: list[Row] = field(default_factory=list)
    dpo: list[Row] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    n_eval_prompts: int = 0
    threshold: float = NEAR_DUP_THRESHOLD
    review_threshold: float = REVIEW_THRESHOLD

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: Row | str, field_: str | None, message: str, line: int | None = None) -> None:
        if isinstance(row, Row):
            self.errors.append(Issue(row.path, row.line, field_, message))
        else:
            self.errors.append(Issue(row, line, field_, message))

    def warn(self, row: Row, field_: str | None, message: str) -> None:
        self.warnings.append(Issue(row.path, row.line, field_, message))


# ---------------------------------------------------------------------------------------------- text

def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
            or 0xF900 <= o <= 0xFAFF or 0x3040 <= o <= 0x30FF)


def cjk_share(text: str) -> float:
    """CJK characters / (CJK characters + alphabetic non-CJK characters); 0 for text with neither."""
    cjk = sum(1 for ch in text if is_cjk(ch))
    other = sum(1 for ch in text if ch.isalpha() and not is_cjk(ch))
    return cjk / (cjk + other) if cjk + other else 0.0


def normalise(text: str) -> str:
    """NFKC, case-folded, only letters, digits and CJK kept (punctuation and whitespace dropped)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def shingles(text: str) -> frozenset[str]:
    norm = normalise(text)
    n = NGRAM["cjk"] if cjk_share(norm) >= 0.5 else NGRAM["latin"]
    if len(norm) <= n:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + n] for i in range(len(norm) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_pairs(left: Sequence[frozenset], right: Sequence[frozenset] | None, threshold: float
               ) -> list[tuple[int, int, float]]:
    """Index pairs ``(i, j, similarity)`` with Jaccard >= threshold, via an inverted n-gram index.

    With ``right=None`` pairs within ``left`` (i < j) are returned.
    """
    same = right is None
    right = left if same else right
    index: dict[str, list[int]] = defaultdict(list)
    for j, s in enumerate(right):
        for g in s:
            index[g].append(j)
    out = []
    for i, s in enumerate(left):
        counts: Counter = Counter()
        for g in s:
            counts.update(index.get(g, ()))
        for j, inter in counts.items():
            if same and j <= i:
                continue
            sim = inter / (len(s) + len(right[j]) - inter)
            if sim >= threshold:
                out.append((i, j, sim))
    return out


def prompt_text(messages: list[dict]) -> str:
    """The user side of a conversation (all user turns), the text compared for duplicates and leaks."""
    return "\n".join(m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user")


# ----------------------------------------------------------------------------------------- loading

def _message(err: DataError) -> str:
    """The message of a :class:`DataError` without its ``path:line: field:`` prefix."""
    text = str(err)
    prefix = f"{err.path}:{err.line}: " if err.line is not None else f"{err.path}: "
    text = text[len(prefix):] if text.startswith(prefix) else text
    if err.field and text.startswith(err.field + ": "):
        text = text[len(err.field) + 2:]
    return text


def classify(path: Path, first: dict | None) -> str:
    if path.parent.name in ("sft", "dpo"):
        return path.parent.name
    if first is not None and "chosen" in first:
        return "dpo"
    return "sft"


def default_paths() -> list[Path]:
    return [p for p in (DATA_DIR / "sft", DATA_DIR / "dpo") if p.exists()]


def read_rows(paths: Sequence[str | Path], report: CheckReport) -> None:
    try:
        files = jsonl_files(paths)
    except DataError as err:
        report.error(_rel(err.path), None, _message(err))
        return
    for path in files:
        report.files.append(_rel(path))
        rows: list[tuple[int, dict]] = []
        try:
            for line, data in read_jsonl(path):
                rows.append((line, data))
        except DataError as err:
            report.error(_rel(err.path), err.field, _message(err), line=err.line)
        stage = classify(path, rows[0][1] if rows else None)
        target = report.sft if stage == "sft" else report.dpo
        target.extend(Row(_rel(path), line, data, stage) for line, data in rows)


# ------------------------------------------------------------------------------------------ checks

def _check_common(row: Row, report: CheckReport, required: Sequence[str]) -> bool:
    """Fields shared by SFT and DPO rows. False when the row is too broken to check further."""
    d = row.data
    ok = True
    for name in required:
        if name not in d:
            report.error(row, name, "missing required field")
            ok = False
        elif name in ("id", "pair_id", "lang", "topic", "kind", "rejected_type") and (
                not isinstance(d[name], str) or not d[name].strip()):
            report.error(row, name, "must be a non-empty string")
            ok = False
    if not ok:
        return False
    topics = load_topics()
    if d["lang"] not in LANGS:
        report.error(row, "lang", f"{d['lang']!r} is not one of {LANGS}")
    if d["kind"] not in SFT_KINDS:
        report.error(row, "kind", f"{d['kind']!r} is not one of {SFT_KINDS}")
    topic = topics.get(d["topic"])
    if topic is None:
        report.error(row, "topic", f"unknown topic {d['topic']!r} (not in data/topics.yaml)")
    elif d["kind"] in TOPIC_KIND and topic.kind != TOPIC_KIND[d["kind"]]:
        report.error(row, "topic", f"topic {d['topic']!r} is a {topic.kind} topic; kind {d['kind']!r} rows need a "
                                   f"{TOPIC_KIND[d['kind']]} topic")
    m = PAIR_ID.match(d["pair_id"])
    if not m:
        report.error(row, "pair_id", f"{d['pair_id']!r} is not <topic>-<3 digits>")
    elif m.group("topic") != d["topic"]:
        report.error(row, "pair_id", f"{d['pair_id']!r} does not start with its topic {d['topic']!r}")
    expected = f"{d['pair_id']}-{d['lang']}"
    if row.stage == "sft":
        if d["id"] != expected:
            report.error(row, "id", f"{d['id']!r} should be pair_id + '-' + lang = {expected!r}")
    else:
        if split_dpo_id(d) is None:
            report.error(row, "id", f"{d['id']!r} should be {expected!r} (optionally with a tag, e.g. "
                                    f"{expected + '-mined'!r})")
    sources = d["sources"]
    if not isinstance(sources, list) or not sources:
        report.error(row, "sources", "must be a non-empty list")
    else:
        for i, s in enumerate(sources):
            if not isinstance(s, str) or not s.strip():
                report.error(row, "sources", f"sources[{i}] is empty")
            elif BAD_SOURCE.match(s):
                report.error(row, "sources", f"sources[{i}] {s!r} is not a real reference")
    return True


def check_messages(row: Row, report: CheckReport, name: str, messages, last: str | None) -> bool:
    """Roles: optional system first, then user/assistant alternating from user; ends with ``last``."""
    if not isinstance(messages, list) or not messages:
        report.error(row, name, "must be a non-empty list of messages")
        return False
    ok = True
    seen: dict[str, int] = {}
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            report.error(row, name, f"{name}[{i}] needs string 'role' and 'content'")
            return False
        if not m["content"].strip():
            report.error(row, name, f"{name}[{i}] ({m['role']}) has empty content")
            ok = False
        key = normalise(m["content"])
        if key and key in seen:
            report.error(row, name, f"{name}[{i}] repeats {name}[{seen[key]}]")
            ok = False
        seen.setdefault(key, i)
    roles = [m["role"] for m in messages]
    body = roles[1:] if roles[0] == "system" else roles
    if name in ("chosen", "rejected"):
        expected = ["assistant"]
    else:
        expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(body))]
    if body != expected:
        report.error(row, name, f"roles {roles} are out of order: expected an optional system message, then "
                                f"user/assistant alternating from user" if name not in ("chosen", "rejected")
                     else f"roles {roles}: expected exactly one assistant message")
        return False
    if last and body and body[-1] != last:
        report.error(row, name, f"must end with a {last} message, ends with {body[-1]}")
        return False
    return ok


def check_language(row: Row, report: CheckReport, texts: Sequence[str]) -> None:
    lang = row.data.get("lang")
    share = cjk_share("".join(texts))
    if lang in ("zh", "zh-Hant") and share < ZH_MIN_CJK:
        report.error(row, "lang", f"tagged {lang} but only {share:.0%} of the letters are CJK (need >= "
                                  f"{ZH_MIN_CJK:.0%})")
    elif lang == "en" and share > EN_MAX_CJK:
        report.error(row, "lang", f"tagged en but {share:.0%} of the letters are CJK (allowed <= {EN_MAX_CJK:.0%})")


def check_length(row: Row, report: CheckReport, answer: str) -> None:
    lang = row.data.get("lang")
    if row.data.get("kind") == "harmful-refusal":
        return  # refusals are brief by design
    if lang == "en":
        n, (lo, hi), unit = len(answer.split()), EN_WORDS, "words"
    elif lang in ("zh", "zh-Hant"):
        n, (lo, hi), unit = sum(1 for ch in answer if is_cjk(ch) or ch.isalnum()), ZH_CHARS, "characters"
    else:
        return
    if n < lo * (1 - LENGTH_SLACK) or n > hi * (1 + LENGTH_SLACK):
        report.warn(row, "messages", f"answer has {n} {unit}; SCHEMA.md asks for {lo}-{hi}")


def check_sft_row(row: Row, report: CheckReport) -> None:
    if not _check_common(row, report, SFT_FIELDS):
        return
    msgs = row.data["messages"]
    if check_messages(row, report, "messages", msgs, last="assistant"):
        check_language(row, report, [m["content"] for m in msgs if m["role"] != "system"])
        check_length(row, report, msgs[-1]["content"])


def check_dpo_row(row: Row, report: CheckReport) -> None:
    if not _check_common(row, report, DPO_FIELDS):
        return
    d = row.data
    ok = check_messages(row, report, "prompt", d["prompt"], last="user")
    ok = check_messages(row, report, "chosen", d["chosen"], last="assistant") and ok
    ok = check_messages(row, report, "rejected", d["rejected"], last="assistant") and ok
    if d["rejected_type"] not in REJECTED_TYPES:
        report.error(row, "rejected_type", f"{d['rejected_type']!r} is not one of {REJECTED_TYPES}")
    elif d["kind"] in REJECTED_FOR_KIND and d["rejected_type"] not in REJECTED_FOR_KIND[d["kind"]]:
        report.error(row, "rejected_type", f"{d['rejected_type']!r} does not fit kind {d['kind']!r} "
                                           f"(use {' or '.join(REJECTED_FOR_KIND[d['kind']])})")
    if ok:
        check_language(row, report, [m["content"] for m in d["prompt"] if m["role"] != "system"]
                       + [d["chosen"][0]["content"]])
        if normalise(d["chosen"][0]["content"]) == normalise(d["rejected"][0]["content"]):
            report.error(row, "rejected", "is the same as chosen")


def check_pairs(rows: Sequence[Row], report: CheckReport, stage: str) -> None:
    """Unique ids; every pair has en and zh rows with the same topic and kind."""
    by_id: dict[str, Row] = {}
    pairs: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in rows:
        d = row.data
        if not isinstance(d.get("id"), str):
            continue
        if d["id"] in by_id:
            report.error(row, "id", f"duplicate id {d['id']!r} (first at {by_id[d['id']].where})")
            continue
        by_id[d["id"]] = row
        if stage == "dpo" and (split_dpo_id(d) or (None, None))[1]:
            continue  # mined rows: only flagged answers are kept, so a pair may be incomplete
        if isinstance(d.get("pair_id"), str) and isinstance(d.get("lang"), str):
            pairs[d["pair_id"]][d["lang"]] = row
    for pair_id, langs in pairs.items():
        first = min(langs.values(), key=lambda r: (r.path, r.line))
        for need in ("en", "zh"):
            if need not in langs:
                report.error(first, "pair_id", f"pair {pair_id!r} has no {need!r} row")
        for other in langs.values():
            for name in ("topic", "kind"):
                if other.data.get(name) != first.data.get(name):
                    report.error(other, name, f"{other.data.get(name)!r} differs from the {first.data.get('lang')} "
                                              f"row of pair {pair_id!r} ({first.where}: {first.data.get(name)!r})")


def check_dpo_against_sft(report: CheckReport) -> None:
    sft = {r.data.get("id"): r for r in report.sft if isinstance(r.data.get("id"), str)}
    curated: set[str] = set()
    for row in report.dpo:
        d = row.data
        split = split_dpo_id(d)
        if split is None:
            continue
        base, tag = split
        if not tag:
            curated.add(base)
        target = sft.get(base)
        if target is None:
            report.error(row, "id", f"no SFT row with id {base!r}")
            continue
        msgs = target.data.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(x, dict) for x in msgs):
            continue
        for name in ("pair_id", "lang", "topic", "kind"):
            if d.get(name) != target.data.get(name):
                report.error(row, name, f"{d.get(name)!r} differs from the SFT row ({target.where}: "
                                        f"{target.data.get(name)!r})")
        if d.get("prompt") != msgs[:-1]:
            report.error(row, "prompt", f"differs from the SFT row's prompt ({target.where})")
        if d.get("chosen") != msgs[-1:]:
            report.error(row, "chosen", f"differs from the SFT answer ({target.where})")
    if curated:
        for base, target in sft.items():
            if base not in curated:
                report.error(target, "id", f"SFT row {base!r} has no DPO row in the checked DPO files")


def check_duplicates(report: CheckReport, eval_prompts: Sequence[tuple[str, int, str, str]],
                     threshold: float = NEAR_DUP_THRESHOLD, review: float = REVIEW_THRESHOLD) -> None:
    """Exact and near duplicates among SFT prompts, and SFT prompts that (nearly) repeat eval prompts."""
    train = [(r, prompt_text(r.data["messages"])) for r in report.sft
             if isinstance(r.data.get("messages"), list) and all(isinstance(m, dict) for m in r.data["messages"])]
    train = [(r, t) for r, t in train if t.strip()]
    exact: dict[str, Row] = {}
    for r, t in train:
        key = normalise(t)
        if key in exact:
            report.error(r, "messages", f"duplicate prompt: same as {exact[key].where} "
                                        f"({exact[key].data.get('id')})")
        else:
            exact[key] = r
    sh = [shingles(t) for _, t in train]
    low = min(review, threshold)
    for i, j, sim in near_pairs(sh, None, low):
        a, b = train[i][0], train[j][0]
        if normalise(train[i][1]) == normalise(train[j][1]):
            continue  # reported as exact
        if sim >= threshold:
            report.error(b, "messages", f"near-duplicate prompt of {a.where} ({a.data.get('id')}): Jaccard "
                                        f"{sim:.2f} >= {threshold}")
        else:
            report.warn(b, "messages", f"review: possible paraphrase of training prompt {a.where} "
                                       f"({a.data.get('id')}): Jaccard {sim:.2f}")
    # decontamination
    eval_exact = {normalise(p): (path, line, pid) for path, line, pid, p in eval_prompts}
    for r, t in train:
        hit = eval_exact.get(normalise(t))
        if hit:
            report.error(r, "messages", f"prompt leaks an evaluation prompt: same as {hit[0]}:{hit[1]} ({hit[2]})")
    esh = [shingles(p) for *_, p in eval_prompts]
    for i, j, sim in sorted(near_pairs(sh, esh, low)):
        path, line, pid, p = eval_prompts[j]
        if normalise(train[i][1]) == normalise(p):
            continue
        if sim >= threshold:
            report.error(train[i][0], "messages", f"prompt nearly repeats evaluation prompt {path}:{line} ({pid}): "
                                                  f"Jaccard {sim:.2f} >= {threshold}")
        else:
            report.warn(train[i][0], "messages", f"review: possible paraphrase of evaluation prompt {path}:{line} "
                                                 f"({pid}): Jaccard {sim:.2f}")
    answers: dict[str, Row] = {}
    for r, _ in train:
        key = normalise(r.data["messages"][-1].get("content", ""))
        if key and key in answers:
            report.warn(r, "messages", f"same answer as {answers[key].where}")
        answers.setdefault(key, r)


def read_eval_prompts(paths: Sequence[str | Path] | None, report: CheckReport) -> list[tuple[str, int, str, str]]:
    """``(path, line, id, prompt)`` of every evaluation prompt (read leniently: eval check is ``eval``'s job)."""
    paths = list(paths) if paths else [EVAL_DIR / "suites"]
    out = []
    try:
        files = jsonl_files([p for p in paths if Path(p).exists()])
    except DataError:
        return out
    for path in files:
        try:
            for line, data in read_jsonl(path):
                if isinstance(data.get("prompt"), str):
                    out.append((_rel(path), line, str(data.get("id")), data["prompt"]))
        except DataError as err:
            report.error(_rel(err.path), None, "unreadable evaluation file: " + _message(err),
                         line=err.line)
    report.n_eval_prompts = len(out)
    return out


def check_with_judge(report: CheckReport) -> None:
    """Curated answers the rule judge flags are suspicious (warnings: the judge looks at phrases)."""
    from decensor.eval.judges import make_judge
    from decensor.eval.suites import EvalPrompt

    judge = make_judge("rules")
    kind_map = {"sensitive": "sensitive", "innocent": "innocent", "harmful-refusal": "harmful"}
    for r in report.sft:
        d = r.data
        msgs = d.get("messages")
        if d.get("kind") not in kind_map or not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict):
            continue
        p = EvalPrompt(str(d.get("id")), str(d.get("pair_id")), str(d.get("lang")), str(d.get("topic")),
                       kind_map[d["kind"]], prompt_text(msgs))
        labels = judge.judge(p, str(msgs[-1].get("content", ""))).answer
        reasons = []
        if d["kind"] != "harmful-refusal" and labels.refusal != "none":
            reasons.append(f"{labels.refusal} refusal")
        if labels.official_narrative:
            reasons.append("official narrative")
        if labels.propaganda_framing:
            reasons.append("propaganda framing")
        if labels.harmful_compliance:
            reasons.append("harmful compliance")
        if d["kind"] == "harmful-refusal" and labels.refusal == "none":
            reasons.append("does not refuse")
        if reasons:
            report.warn(r, "messages", f"rule judge flags the curated answer: {', '.join(reasons)} "
                                       f"(evidence: {'; '.join(labels.evidence[:3])})")


def check_data(paths: Sequence[str | Path] | None = None, suites: Sequence[str | Path] | None = None,
               threshold: float = NEAR_DUP_THRESHOLD, review: float = REVIEW_THRESHOLD,
               judge: bool = False) -> CheckReport:
    """Check SFT/DPO files or folders (default data/sft and data/dpo) against eval suites (default eval/suites)."""
    report = CheckReport(threshold=threshold, review_threshold=review)
    read_rows(list(paths) if paths else default_paths(), report)
    for row in report.sft:
        check_sft_row(row, report)
    for row in report.dpo:
        check_dpo_row(row, report)
    check_pairs(report.sft, report, "sft")
    check_pairs(report.dpo, report, "dpo")
    if report.dpo:
        check_dpo_against_sft(report)
    check_duplicates(report, read_eval_prompts(suites, report), threshold, review)
    if judge:
        check_with_judge(report)
    report.errors.sort(key=lambda i: (i.path, i.line or 0))
    report.warnings.sort(key=lambda i: (i.path, i.line or 0))
    return report


# ------------------------------------------------------------------------------------------- stats

def balance(rows: Sequence[Row]) -> dict:
    """Counts per kind -> topic -> lang, plus totals and the innocent share."""
    topics = load_topics()
    table: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    langs: set[str] = set()
    for r in rows:
        d = r.data
        kind, topic, lang = str(d.get("kind")), str(d.get("topic")), str(d.get("lang"))
        table[kind][topic][lang] += 1
        langs.add(lang)
    order = [k for k in SFT_KINDS if k in table] + sorted(k for k in table if k not in SFT_KINDS)
    lang_order = [lang for lang in LANGS if lang in langs] + sorted(langs - set(LANGS))
    total = sum(sum(c.values()) for t in table.values() for c in t.values())
    innocent = sum(sum(c.values()) for c in table.get("innocent", {}).values())
    return {"kinds": order, "langs": lang_order, "table": table, "total": total,
            "innocent_share": innocent / total if total else 0.0,
            "topic_order": {t: i for i, t in enumerate(topics)}}


def rejected_counts(rows: Sequence[Row]) -> dict[tuple[str, str], Counter]:
    out: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        d = r.data
        tag = (split_dpo_id(d) or (None, None))[1]
        origin = Path(r.path).name if tag else "curated"
        out[(origin, str(d.get("kind")))][f"{d.get('rejected_type')}/{d.get('lang')}"] += 1
    return out


def balance_rows(b: dict) -> list[list[str]]:
    """Table rows: kind, topic, one column per language, total (with per-kind subtotals and a grand total)."""
    rows = []
    for kind in b["kinds"]:
        topics = sorted(b["table"][kind], key=lambda t: b["topic_order"].get(t, 10**6))
        sub = Counter()
        for t in topics:
            c = b["table"][kind][t]
            sub.update(c)
            rows.append([kind, t] + [str(c.get(lang, 0)) for lang in b["langs"]] + [str(sum(c.values()))])
        rows.append([kind, f"all {len(topics)} topics"] + [str(sub.get(lang, 0)) for lang in b["langs"]]
                    + [str(sum(sub.values()))])
    grand = Counter()
    for kind in b["kinds"]:
        for c in b["table"][kind].values():
            grand.update(c)
    rows.append(["all", "all"] + [str(grand.get(lang, 0)) for lang in b["langs"]] + [str(sum(grand.values()))])
    return rows


def print_balance(rows: Sequence[Row], title: str = "SFT rows per topic x language x kind", console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    b = balance(rows)
    table = Table(title=title)
    for col in ["kind", "topic", *b["langs"], "total"]:
        table.add_column(col, justify="right" if col not in ("kind", "topic") else "left")
    for r in balance_rows(b):
        style = "bold" if r[1].startswith("all") else None
        table.add_row(*r, style=style)
    console.print(table)
    console.print(f"total {b['total']} rows; innocent share {b['innocent_share']:.1%}")


def print_rejected(rows: Sequence[Row], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    counts = rejected_counts(rows)
    if not counts:
        return
    table = Table(title="DPO rows per origin x kind x rejected_type/lang")
    table.add_column("origin")
    table.add_column("kind")
    table.add_column("rejected_type/lang: rows")
    table.add_column("total", justify="right")
    for (origin, kind), c in sorted(counts.items()):
        table.add_row(origin, kind, ", ".join(f"{k}: {v}" for k, v in sorted(c.items())), str(sum(c.values())))
    console.print(table)


def markdown_balance(rows: Sequence[Row]) -> str:
    b = balance(rows)
    head = ["kind", "topic", *b["langs"], "total"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for r in balance_rows(b):
        cells = [f"**{c}**" if r[1].startswith("all") else c for c in r]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Total {b['total']} SFT rows; innocent share {b['innocent_share']:.1%}.")
    return "\n".join(lines)


def markdown_rejected(rows: Sequence[Row]) -> str:
    counts = rejected_counts(rows)
    lines = ["| origin | kind | rejected_type/lang: rows | total |", "|---|---|---|---:|"]
    for (origin, kind), c in sorted(counts.items()):
        lines.append(f"| {origin} | {kind} | {', '.join(f'{k}: {v}' for k, v in sorted(c.items()))} | "
                     f"{sum(c.values())} |")
    return "\n".join(lines)


__all__ = ["CheckReport", "Issue", "NEAR_DUP_THRESHOLD", "REVIEW_THRESHOLD", "check_data", "jaccard", "markdown_balance",
           "markdown_rejected", "near_pairs", "normalise", "print_balance", "print_rejected", "shingles"]
