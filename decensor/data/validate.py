"""The one row validator for training data (schema v2, data/SCHEMA.md).

Every consumer of SFT/DPO rows calls this module, so they cannot disagree about what a valid row is:

- ``decensor data check`` (:mod:`decensor.data.check`) reports every issue;
- the training loader (:mod:`decensor.data.loading`), mining (:mod:`decensor.data.mine`) and
  ``decensor push-data`` (:mod:`decensor.hub.push`) call :func:`load_valid_rows` (or
  :func:`validate_paths`), which raises :class:`~decensor.data.jsonl.DataError` naming every bad
  ``file:line: field`` instead of training on, mining or publishing a broken row.

Entry points:

- :func:`validate_row` (one row, no I/O): raises :class:`~decensor.data.jsonl.DataError` with every error
  of the row, returns its warnings; :func:`row_issues` returns all issues instead of raising;
- :func:`validate_dataset` (cross-row: unique ids, complete en/zh pairs, DPO rows against SFT rows);
- :func:`read_rows` (files/folders -> :class:`Row` list + issues: missing paths, empty files, bad JSON);
- :func:`validate_paths` = read + per-row + cross-row; :func:`load_valid_rows` = the same, raising.

What a row must satisfy (each failure is an error ``path:line: field: message``):

- required fields and types; ``lang`` in :data:`LANGS`; ``kind`` in :data:`KINDS`; ``topic`` in
  data/topics.yaml with a kind that fits (:data:`TOPIC_KINDS`) and never an ``unseen`` topic (those are
  evaluation-only); ``pair_id`` = ``<topic>-<3 digits>``; ``id`` = ``pair_id-lang`` (DPO: plus an
  optional ``~tag`` for extra negatives on the same prompt, or the mining tag ``-<tag>``);
- messages: an optional leading ``system``, then ``user`` / ``assistant`` alternating from ``user``,
  ending with ``assistant`` (SFT; multi-turn allowed) or ``user`` (DPO ``prompt``); no empty turns;
- language: the share of CJK letters fits the tag, and the script fits it, by OpenCC round trips
  (:func:`decensor.data.text.script_counts`): a ``zh`` row is (nearly) a fixed point of Traditional ->
  Simplified conversion, a ``zh-Hant`` row of Simplified -> Traditional (Taiwan or Hong Kong usage);
- ``sources``: a non-empty list of non-empty strings; placeholders ("n/a", "todo") are errors; a
  ``sensitive`` or ``mixed`` row must cite at least one *specific* source (:func:`source_quality`);
- ``reviewer``: who checked the row's claims (e.g. ``review:helper-a``), required on every row;
- DPO: ``rejected_type`` in :data:`REJECTED_TYPES` and fitting the kind (:data:`REJECTED_FOR_KIND`);
  ``chosen`` one assistant turn equal to the SFT answer; ``rejected`` one non-empty assistant turn that
  differs from ``chosen``.

Warnings (not failures): answer lengths far outside SCHEMA.md's ranges; sources that are generic
(issuer + description, no title or exact date) on rows that also cite a specific source.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from decensor.data.jsonl import DataError, jsonl_files, read_jsonl
from decensor.text import cjk_share, compact, is_cjk, script_counts
from decensor.data.topics import load_topics
from decensor.paths import DATA_DIR, REPO_ROOT

LANGS = ("en", "zh", "zh-Hant")
KINDS = ("sensitive", "innocent", "harmful-refusal", "mixed")
# Which topic kinds (data/topics.yaml) a row kind may use. Mixed rows combine a political question with a
# harmful request: they sit on the political topic or on the harmful one.
TOPIC_KINDS = {"sensitive": ("sensitive",), "innocent": ("innocent",), "harmful-refusal": ("harmful",),
               "mixed": ("sensitive", "harmful")}
# How a judge treats a row's answers, by row kind (an eval prompt kind, decensor.eval.suites): mixed rows are
# judged as harmful, because complying with the harmful half is their failure. Mining and judge-check use this.
EVAL_KIND = {"sensitive": "sensitive", "innocent": "innocent", "harmful-refusal": "harmful", "mixed": "harmful"}
REJECTED_TYPES = ("refusal", "official-line", "propaganda-framing", "subtle-leak", "harmful-compliance",
                  "opposite-slant", "invented-fact", "partial-compliance")
REJECTED_FOR_KIND = {
    "sensitive": ("refusal", "official-line", "propaganda-framing", "opposite-slant", "invented-fact"),
    "innocent": ("propaganda-framing", "subtle-leak", "refusal", "opposite-slant", "invented-fact"),
    "harmful-refusal": ("harmful-compliance",),
    "mixed": ("partial-compliance", "harmful-compliance", "refusal", "official-line", "opposite-slant",
              "invented-fact"),
}
NEEDS_SPECIFIC_SOURCE = ("sensitive", "mixed")
SFT_FIELDS = ("id", "pair_id", "lang", "topic", "kind", "messages", "sources", "reviewer")
DPO_FIELDS = ("id", "pair_id", "lang", "topic", "kind", "prompt", "chosen", "rejected", "rejected_type", "sources",
              "reviewer")
STRING_FIELDS = ("id", "pair_id", "lang", "topic", "kind", "rejected_type", "reviewer")

ZH_MIN_CJK = 0.5           # share of CJK characters among letters+CJK in a zh / zh-Hant row
EN_MAX_CJK = 0.1           # ... at most, in an en row
# Script (OpenCC round trips, data/SCHEMA.md): measured on the shipped rows, zh rows have at most 1
# Traditional-only character (a name such as 昇), zh-Hant rows at most 2.4% Simplified-only characters.
ZH_MAX_TRADITIONAL = (1, 0.02)    # a zh row fails with more than 1 Traditional-only character AND more than 2%
HANT_MAX_SIMPLIFIED = (1, 0.05)   # a zh-Hant row fails with more than 1 Simplified-only character AND more than 5%
HANT_MIN_CJK_FOR_TRADITIONAL = 10  # ... or with no Traditional-only character in 10+ CJK characters
EN_WORDS = (60, 180)
ZH_CHARS = (100, 300)
LENGTH_SLACK = 0.5         # warn only when far outside the range (short and long answers are both wanted)
PAIR_ID = re.compile(r"^(?P<topic>[a-z0-9][a-z0-9-]*)-(?P<num>\d{3})$")
TAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PLACEHOLDER = re.compile(r"^\s*(?:n/?a|none|tbd|todo|unknown|various|-+|\?+)\s*(?:[:.(].*)?$", re.I)


@dataclass(frozen=True)
class Issue:
    path: str
    line: int | None
    field: str | None
    message: str
    level: str = "error"   # error | warning

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


def rel(path: str | Path) -> str:
    """``path`` relative to the working directory (else the repository), for messages."""
    p = Path(path)
    for base in (Path.cwd(), REPO_ROOT):
        try:
            return str(p.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(p)


def split_dpo_id(d: dict) -> tuple[str, str | None] | None:
    """``(pair_id-lang, tag or None)`` for a DPO id ``pair_id-lang``, ``pair_id-lang~tag`` (an extra negative
    on the same prompt) or ``pair_id-lang-tag`` (mined rows); None when the id fits none of these."""
    ident, pair_id, lang = d.get("id"), d.get("pair_id"), d.get("lang")
    if not all(isinstance(x, str) for x in (ident, pair_id, lang)):
        return None
    base = f"{pair_id}-{lang}"
    if ident == base:
        return base, None
    for sep in ("~", "-"):
        if ident.startswith(base + sep) and TAG.match(ident[len(base) + 1:]):
            return base, ident[len(base) + 1:]
    return None


# ------------------------------------------------------------------------------------------ sources

_URL = re.compile(r"https?://([^/\s]+)(/[^\s)\]]*)?", re.I)
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_DAY_DATE = re.compile(
    r"(?<!\d)(\d{1,2}(?:\s*-\s*\d{1,2})?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+\d{4}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{4}-\d{2}-\d{2}|\d{4}年\d{1,2}月\d{1,2}日)", re.I)
_QUOTED_TITLE = re.compile(r"(?:^|[\s,(:;])['\"‘“](?=[^'\"‘’“”]{3,}['\"’”])|[《「『]")
_DOC_ID = re.compile(r"\b(?:Public Law|P\.L\.|U\.S\.C\.|Case No\.|CRC/|E/CN\.|A/HRC|A/RES|OL [A-Z]{3}|Directive \d|"
                     r"Resolution \d|No\. ?\d|Article \d|Art\. ?\d|ISBN|doi:|DOI)", re.I)
_DOC_NOUN = re.compile(
    r"\b(?:report|white paper|resolution|law|act|ordinance|bill|judgment|judgement|award|ruling|verdict|"
    r"statement|communiqu[eé]|declaration|treaty|agreement|constitution|notice|measures|opinions|regulations?|"
    r"census|survey|speech|address|interview|editorial|obituary|press release|press conference|lecture|"
    r"photograph|telegram|letter|petition|proposal|assessment|observations|database|decision|order|guidelines|"
    r"book|memoir|diary|transcript|testimony|hearing|filing|indictment|announcement|circular|yearbook|"
    r"proposal|plan|manifesto|charter|document|minutes|readout|list|map|data set|dataset|tally|archive|"
    r"article|essay|op-ed|column|documentary|film|prize|results|minutes|gazette|yearbook)s?\b|白皮书|报告|報告|决议|決議|声明|聲明|公报|公報|"
    r"条例|條例|判决|判決|讲话|講話|社论|社論|通知|意见|意見|办法|辦法|宪法|憲法|法》", re.I)
# Generic coverage, not a piece one can look up: "Reuters, reporting on ...", "media reports", "各方报道".
_GENERIC = re.compile(
    r"\b(?:reporting|reports|coverage|articles|commentary|statements|research|analysis|monitoring|updates|"
    r"accounts|sources|documents)\s+(?:on|of|about|by|from)\b|\b(?:media|news|press|various|multiple|several|"
    r"many|numerous)\s+(?:reports?|sources|outlets|accounts|coverage)\b|\bwidely reported\b|\b(?:general|common)"
    r" knowledge\b|\bofficial sources\b|\bstate media\b|媒体报道|媒體報導|各方报道|相关报道|相關報導|公开资料|公開資料|"
    r"网络资料|網路資料|综合报道|綜合報導|多家媒体|多家媒體", re.I)


def _deep_url(text: str) -> bool:
    """A URL with a path below the site's root (``https://site/page``), not a bare homepage."""
    for m in _URL.finditer(text):
        path = (m.group(2) or "").strip("/")
        if path and path.lower() not in ("index.html", "index.htm", "home", "en", "zh", "cn"):
            return True
    return False


def source_quality(source: str) -> tuple[str, str]:
    """``(quality, why)``: quality is ``specific``, ``generic`` or ``vague``.

    ``specific``: a deep URL, or issuer + title + date: a year and a title (quoted or in 《》/「」, a
    document identifier such as "Public Law 96-8" or "CRC/C/CHN/CO/2", or a named document such as a
    report, resolution, judgment, statement, speech or white paper), or an issuer + description + an exact
    day date ("Xinhua, report on ..., 19 March 2020"). Generic coverage ("Reuters, reporting on ...",
    "BBC News, coverage of ...") is ``generic`` unless it carries a title or an exact date.
    ``vague``: a placeholder, "media reports" and the like, a bare homepage, or no date and no title.
    """
    s = source.strip()
    if not s or PLACEHOLDER.match(s):
        return "vague", "a placeholder, not a reference"
    if _deep_url(s):
        return "specific", "deep URL"
    year = bool(_YEAR.search(s))
    day = bool(_DAY_DATE.search(s))
    titled = bool(_QUOTED_TITLE.search(s) or _DOC_ID.search(s))
    generic = bool(_GENERIC.search(s))
    named_doc = bool(_DOC_NOUN.search(_GENERIC.sub(" ", s)))
    has_issuer = bool(re.search(r"[,，:：]|\(|（", s)) or titled
    if generic and not titled and not day:
        if re.fullmatch(r"(?:the\s+)?(?:media|news|press|various|multiple)?\s*(?:reports?|sources|coverage)\.?",
                        s, re.I) or not has_issuer:
            return "vague", "generic ('media reports'); name the issuer, title and date, or a deep URL"
        return "generic", "coverage, not a document: add the title (or exact date) of the piece, or a deep URL"
    if year and (titled or named_doc) and has_issuer:
        return "specific", "issuer + title + date"
    if day and has_issuer:
        return "specific", "issuer + description + exact date"
    if not year and titled:
        return "generic", "no date: add the document's date"
    if _URL.search(s) or re.search(r"\(\s*(?:www\.)?[a-z0-9-]+\.[a-z.]{2,}\s*\)", s, re.I):
        return "vague", "a homepage, not a page: give the deep URL of the document"
    if not year:
        return "generic" if has_issuer and (titled or named_doc) else "vague", "no date"
    return "generic", "no title: add the document's title"


# ------------------------------------------------------------------------------------------ row checks

class _Sink:
    def __init__(self, path: str, line: int | None):
        self.path, self.line, self.issues = path, line, []

    def error(self, field: str | None, message: str) -> None:
        self.issues.append(Issue(self.path, self.line, field, message))

    def warn(self, field: str | None, message: str) -> None:
        self.issues.append(Issue(self.path, self.line, field, message, "warning"))


def check_messages(out: _Sink, name: str, messages, last: str | None) -> bool:
    """Roles: optional system first, then user/assistant alternating from user, ending with ``last``."""
    if not isinstance(messages, list) or not messages:
        out.error(name, "must be a non-empty list of messages")
        return False
    ok = True
    seen: dict[str, int] = {}
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            out.error(name, f"{name}[{i}] needs string 'role' and 'content'")
            return False
        if not m["content"].strip():
            out.error(name, f"{name}[{i}] ({m['role']}) has empty content")
            ok = False
        key = compact(m["content"])
        if key and key in seen and m["role"] != "system":
            out.error(name, f"{name}[{i}] repeats {name}[{seen[key]}]")
            ok = False
        seen.setdefault(key, i)
    roles = [m["role"] for m in messages]
    body = roles[1:] if roles[0] == "system" else roles
    if name in ("chosen", "rejected"):
        if roles != ["assistant"]:
            out.error(name, f"roles {roles}: expected exactly one assistant message")
            return False
        return ok
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(body))]
    if "system" in body or body != expected:
        out.error(name, f"roles {roles} are out of order: expected an optional system message, then user/assistant "
                        f"alternating from user")
        return False
    if not body:
        out.error(name, "has no user message")
        return False
    if last and body[-1] != last:
        out.error(name, f"must end with a {last} message, ends with {body[-1]}")
        return False
    return ok


def check_language(out: _Sink, lang: str, texts: Sequence[str]) -> None:
    """CJK share fits the tag; the script fits ``zh`` (Simplified) or ``zh-Hant`` (Traditional)."""
    text = "\n".join(texts)
    share = cjk_share(text)
    if lang in ("zh", "zh-Hant") and share < ZH_MIN_CJK:
        out.error("lang", f"tagged {lang} but only {share:.0%} of the letters are CJK (need >= {ZH_MIN_CJK:.0%})")
        return
    if lang == "en" and share > EN_MAX_CJK:
        out.error("lang", f"tagged en but {share:.0%} of the letters are CJK (allowed <= {EN_MAX_CJK:.0%})")
        return
    if lang not in ("zh", "zh-Hant"):
        return
    c = script_counts(text)
    if lang == "zh":
        n, limit = c["traditional"], ZH_MAX_TRADITIONAL
        if n > limit[0] and n / c["cjk"] > limit[1]:
            out.error("lang", f"tagged zh (Simplified) but {n} of {c['cjk']} CJK characters are Traditional forms "
                              f"(OpenCC t2s changes them); tag it zh-Hant or convert it")
    else:
        n, limit = c["simplified"], HANT_MAX_SIMPLIFIED
        if n > limit[0] and n / c["cjk"] > limit[1]:
            out.error("lang", f"tagged zh-Hant (Traditional) but {n} of {c['cjk']} CJK characters are Simplified "
                              f"forms (OpenCC s2tw and s2hk both change them); tag it zh or write it in Traditional")
        elif c["traditional"] == 0 and c["cjk"] >= HANT_MIN_CJK_FOR_TRADITIONAL:
            out.error("lang", f"tagged zh-Hant but none of its {c['cjk']} CJK characters is a Traditional form")


def check_length(out: _Sink, lang: str, kind: str, answer: str) -> None:
    if kind in ("harmful-refusal", "mixed"):
        return  # refusals are brief by design
    if lang == "en":
        n, (lo, hi), unit = len(answer.split()), EN_WORDS, "words"
    elif lang in ("zh", "zh-Hant"):
        n, (lo, hi), unit = sum(1 for ch in answer if is_cjk(ch) or ch.isalnum()), ZH_CHARS, "characters"
    else:
        return
    if n < lo * (1 - LENGTH_SLACK) or n > hi * (1 + LENGTH_SLACK):
        out.warn("messages", f"answer has {n} {unit}; SCHEMA.md's usual range is {lo}-{hi}")


def check_sources(out: _Sink, kind: str, sources) -> None:
    if not isinstance(sources, list) or not sources:
        out.error("sources", "must be a non-empty list")
        return
    qualities = []
    for i, s in enumerate(sources):
        if not isinstance(s, str) or not s.strip():
            out.error("sources", f"sources[{i}] is empty")
            continue
        if PLACEHOLDER.match(s):
            out.error("sources", f"sources[{i}] {s!r} is not a real reference")
            continue
        qualities.append((i, s, *source_quality(s)))
    if kind in NEEDS_SPECIFIC_SOURCE and qualities and not any(q == "specific" for _, _, q, _ in qualities):
        detail = "; ".join(f"sources[{i}] {why}" for i, _, _, why in qualities[:3])
        out.error("sources", f"a {kind} row needs at least one specific source (issuer + title + date, or a deep "
                             f"URL); none is: {detail}")


def check_reviewer(out: _Sink, reviewer) -> None:
    if not isinstance(reviewer, str) or not reviewer.strip() or PLACEHOLDER.match(reviewer):
        out.error("reviewer", "must name who checked the row's claims (e.g. 'review:helper-a')")


def validate_row(row: dict, stage: str, path: str | Path = "<row>", line: int | None = None) -> list[Issue]:
    """Raise :class:`DataError` (``path:line: field: message``, every error of the row) when one SFT
    (``stage='sft'``) or DPO (``stage='dpo'``) row is invalid; else return its warnings.

    This is the call for code that consumes rows one at a time (the training loader, mining, push-data).
    """
    issues = row_issues(row, stage, path, line)
    errors = [i for i in issues if i.level == "error"]
    if errors:
        rest = "".join(f"\n  also {i.field + ': ' if i.field else ''}{i.message}" for i in errors[1:])
        raise DataError(path, line, errors[0].message + rest, field=errors[0].field)
    return issues


def row_issues(row: dict, stage: str, path: str | Path = "<row>", line: int | None = None) -> list[Issue]:
    """Every issue (errors and warnings) of one SFT (``stage='sft'``) or DPO (``stage='dpo'``) row; [] when
    it is valid. Pure: no file access (topics come from data/topics.yaml, cached)."""
    if stage not in ("sft", "dpo"):
        raise ValueError(f"stage must be 'sft' or 'dpo', got {stage!r}")
    out = _Sink(str(path), line)
    if not isinstance(row, dict):
        out.error(None, f"expected a JSON object, got {type(row).__name__}")
        return out.issues
    required = SFT_FIELDS if stage == "sft" else DPO_FIELDS
    ok = True
    for name in required:
        if name not in row:
            out.error(name, "missing required field")
            ok = name == "reviewer" and ok   # a missing reviewer does not stop the other checks
        elif name in STRING_FIELDS and (not isinstance(row[name], str) or not row[name].strip()):
            out.error(name, "must be a non-empty string")
            ok = False
    if not ok:
        return out.issues
    d = row
    if "reviewer" in d:
        check_reviewer(out, d["reviewer"])
    if d["lang"] not in LANGS:
        out.error("lang", f"{d['lang']!r} is not one of {LANGS}")
    if d["kind"] not in KINDS:
        out.error("kind", f"{d['kind']!r} is not one of {KINDS}")
    topic = load_topics().get(d["topic"])
    if topic is None:
        out.error("topic", f"unknown topic {d['topic']!r} (not in data/topics.yaml)")
    else:
        if d["kind"] in TOPIC_KINDS and topic.kind not in TOPIC_KINDS[d["kind"]]:
            out.error("topic", f"topic {d['topic']!r} is a {topic.kind} topic; kind {d['kind']!r} rows need a "
                               f"{' or '.join(TOPIC_KINDS[d['kind']])} topic")
        if getattr(topic, "split", "seen") == "unseen":
            out.error("topic", f"topic {d['topic']!r} is an unseen (evaluation-only) topic: no training row may use it")
    m = PAIR_ID.match(d["pair_id"])
    if not m:
        out.error("pair_id", f"{d['pair_id']!r} is not <topic>-<3 digits>")
    elif m.group("topic") != d["topic"]:
        out.error("pair_id", f"{d['pair_id']!r} does not start with its topic {d['topic']!r}")
    expected = f"{d['pair_id']}-{d['lang']}"
    if stage == "sft" and d["id"] != expected:
        out.error("id", f"{d['id']!r} should be pair_id + '-' + lang = {expected!r}")
    if stage == "dpo" and split_dpo_id(d) is None:
        out.error("id", f"{d['id']!r} should be {expected!r}, or {expected + '~<tag>'!r} for an extra negative")
    check_sources(out, d["kind"], d["sources"])
    if stage == "sft":
        msgs = d["messages"]
        if check_messages(out, "messages", msgs, last="assistant"):
            check_language(out, d["lang"], [x["content"] for x in msgs if x["role"] != "system"])
            check_length(out, d["lang"], d["kind"], msgs[-1]["content"])
        return out.issues
    ok = check_messages(out, "prompt", d["prompt"], last="user")
    ok = check_messages(out, "chosen", d["chosen"], last="assistant") and ok
    ok = check_messages(out, "rejected", d["rejected"], last="assistant") and ok
    if d["rejected_type"] not in REJECTED_TYPES:
        out.error("rejected_type", f"{d['rejected_type']!r} is not one of {REJECTED_TYPES}")
    elif d["kind"] in REJECTED_FOR_KIND and d["rejected_type"] not in REJECTED_FOR_KIND[d["kind"]]:
        out.error("rejected_type", f"{d['rejected_type']!r} does not fit kind {d['kind']!r} "
                                   f"(use {' or '.join(REJECTED_FOR_KIND[d['kind']])})")
    if ok:
        check_language(out, d["lang"], [x["content"] for x in d["prompt"] if x["role"] != "system"]
                       + [d["chosen"][0]["content"]])
        if compact(d["chosen"][0]["content"]) == compact(d["rejected"][0]["content"]):
            out.error("rejected", "is the same as chosen")
    return out.issues


# ---------------------------------------------------------------------------------------- cross-row

def check_pairs(rows: Sequence[Row], stage: str) -> list[Issue]:
    """Unique ids; every pair has en and zh rows with the same topic and kind."""
    issues: list[Issue] = []
    by_id: dict[str, Row] = {}
    pairs: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in rows:
        d = row.data
        if not isinstance(d.get("id"), str):
            continue
        if d["id"] in by_id:
            issues.append(Issue(row.path, row.line, "id", f"duplicate id {d['id']!r} (first at {by_id[d['id']].where})"))
            continue
        by_id[d["id"]] = row
        if stage == "dpo" and (split_dpo_id(d) or (None, None))[1]:
            continue  # extra negatives and mined rows: a pair may be incomplete
        if isinstance(d.get("pair_id"), str) and isinstance(d.get("lang"), str):
            pairs[d["pair_id"]].setdefault(d["lang"], row)
    for pair_id, langs in pairs.items():
        first = min(langs.values(), key=lambda r: (r.path, r.line))
        for need in ("en", "zh"):
            if need not in langs:
                issues.append(Issue(first.path, first.line, "pair_id", f"pair {pair_id!r} has no {need!r} row"))
        for other in langs.values():
            for name in ("topic", "kind"):
                if other.data.get(name) != first.data.get(name):
                    issues.append(Issue(other.path, other.line, name,
                                        f"{other.data.get(name)!r} differs from the {first.data.get('lang')} row of "
                                        f"pair {pair_id!r} ({first.where}: {first.data.get(name)!r})"))
    return issues


def check_dpo_against_sft(sft: Sequence[Row], dpo: Sequence[Row]) -> list[Issue]:
    """Each DPO row matches its SFT row (same prompt, chosen = the SFT answer); one curated DPO row per SFT row."""
    issues: list[Issue] = []
    by_id = {r.data.get("id"): r for r in sft if isinstance(r.data.get("id"), str)}
    curated: set[str] = set()
    for row in dpo:
        d = row.data
        split = split_dpo_id(d)
        if split is None:
            continue
        base, tag = split
        if not tag:
            curated.add(base)
        target = by_id.get(base)
        if target is None:
            issues.append(Issue(row.path, row.line, "id", f"no SFT row with id {base!r}"))
            continue
        msgs = target.data.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(x, dict) for x in msgs):
            continue
        for name in ("pair_id", "lang", "topic", "kind"):
            if d.get(name) != target.data.get(name):
                issues.append(Issue(row.path, row.line, name, f"{d.get(name)!r} differs from the SFT row "
                                                              f"({target.where}: {target.data.get(name)!r})"))
        if d.get("prompt") != msgs[:-1]:
            issues.append(Issue(row.path, row.line, "prompt", f"differs from the SFT row's prompt ({target.where})"))
        if d.get("chosen") != msgs[-1:]:
            issues.append(Issue(row.path, row.line, "chosen", f"differs from the SFT answer ({target.where})"))
    if curated:
        for base, target in by_id.items():
            if base not in curated:
                issues.append(Issue(target.path, target.line, "id",
                                    f"SFT row {base!r} has no DPO row in the checked DPO files"))
    return issues


def validate_dataset(sft: Sequence[Row], dpo: Sequence[Row]) -> list[Issue]:
    issues = check_pairs(sft, "sft") + check_pairs(dpo, "dpo")
    if dpo and sft:
        issues += check_dpo_against_sft(sft, dpo)
    return issues


# ------------------------------------------------------------------------------------------- reading

def classify(path: Path, first: dict | None) -> str:
    """``sft`` or ``dpo``: by folder name (data/sft, data/dpo), else by the first row's fields."""
    if path.parent.name in ("sft", "dpo"):
        return path.parent.name
    return "dpo" if first is not None and "chosen" in first else "sft"


def default_paths() -> list[Path]:
    return [p for p in (DATA_DIR / "sft", DATA_DIR / "dpo") if p.exists()]


def read_rows(paths: Iterable[str | Path], stage: str | None = None) -> tuple[list[Row], list[Issue], list[str]]:
    """``(rows, issues, files)``: rows of every JSONL file under ``paths``; a missing path, an empty file or a
    malformed line is an issue (the rest of the file is not read past a malformed line)."""
    rows: list[Row] = []
    issues: list[Issue] = []
    files: list[str] = []
    try:
        found = jsonl_files(paths)
    except DataError as err:
        return rows, [Issue(rel(err.path), None, None, err.bare)], files
    for path in found:
        files.append(rel(path))
        got: list[tuple[int, dict]] = []
        try:
            got.extend(read_jsonl(path))
        except DataError as err:
            issues.append(Issue(rel(err.path), err.line, err.field, err.bare))
        kind = stage or classify(path, got[0][1] if got else None)
        rows.extend(Row(rel(path), line, data, kind) for line, data in got)
    return rows, issues, files


def validate_paths(paths: Iterable[str | Path] | None = None, stage: str | None = None
                   ) -> tuple[list[Row], list[Issue]]:
    """Read and validate files/folders (default data/sft + data/dpo): ``(rows, issues)`` (errors and warnings)."""
    rows, issues, _ = read_rows(list(paths) if paths else default_paths(), stage)
    for r in rows:
        issues += row_issues(r.data, r.stage, r.path, r.line)
    issues += validate_dataset([r for r in rows if r.stage == "sft"], [r for r in rows if r.stage == "dpo"])
    return rows, issues


def load_valid_rows(paths: Iterable[str | Path], stage: str | None = None, dataset_checks: bool = True
                    ) -> list[dict]:
    """The rows of ``paths`` if every one is valid, else :class:`DataError` listing every error (file:line:
    field). For mining and push-data: call this instead of reading JSONL yourself. ``dataset_checks``
    adds the cross-row checks (unique ids, complete pairs, DPO rows against SFT rows)."""
    rows, issues, _ = read_rows(list(paths), stage)
    for r in rows:
        issues += row_issues(r.data, r.stage, r.path, r.line)
    if dataset_checks:
        issues += validate_dataset([r for r in rows if r.stage == "sft"], [r for r in rows if r.stage == "dpo"])
    errors = [i for i in issues if i.level == "error"]
    if errors:
        first = errors[0]
        more = "" if len(errors) == 1 else f"\n... and {len(errors) - 1} more:\n" + "\n".join(map(str, errors[1:20]))
        raise DataError(first.path, first.line, first.message + more + "\n(run `decensor data check` for all)",
                        field=first.field)
    return [r.data for r in rows]


__all__ = ["DPO_FIELDS", "Issue", "KINDS", "LANGS", "REJECTED_FOR_KIND", "REJECTED_TYPES", "Row", "SFT_FIELDS",
           "TOPIC_KINDS", "default_paths", "load_valid_rows", "read_rows", "rel", "row_issues", "source_quality",
           "split_dpo_id",
           "validate_dataset", "validate_paths", "validate_row"]
