"""``decensor data synth``: draft training rows with a teacher model, filter them, queue them for review.

Pipeline (one run folder, e.g. ``runs/synth-<name>/``):

1. **taxonomy**: the topics of data/topics.yaml (``--topics`` / ``--kinds``); ``split: unseen`` topics are
   refused (they are evaluation-only);
2. **prompts**: per topic, the teacher writes English questions; each is paraphrased into Simplified
   (``zh``) and Traditional Chinese as written in Taiwan / Hong Kong (``zh-Hant``);
3. **answers**: per question and language, the teacher drafts an answer with sources, as JSON
   ``{"answer": ..., "sources": [...]}``;
4. **automatic filters**, each recorded on the row (nothing is dropped silently): the row validator
   (:mod:`decensor.data.validate`: empty text, language and script, specific sources, ...), the rule
   judge (refusal, official narrative, propaganda framing; a harmful-refusal row must refuse), paraphrase
   of an evaluation prompt (:mod:`decensor.data.decontam`), duplicates of a training prompt or of another
   candidate (:mod:`decensor.data.dedup`), unparseable teacher replies;
5. **review queue** ``queue.jsonl``: one line per candidate row with ``filters`` (problems found) and
   ``review``: ``null`` until a person sets ``accept``, ``edit`` (after editing ``row``) or ``reject``,
   and ``reviewer`` (who). Re-running keeps every review decision;
6. ``decensor data synth merge RUN``: appends to ``data/sft/synth-<run>.jsonl`` ONLY rows whose review is
   ``accept`` or ``edit``, with a reviewer, whose pair has accepted ``en`` and ``zh`` rows, and that pass the
   row validator; each gets a fresh ``pair_id`` and its ``reviewer``. Nothing else enters data/.

Teacher calls go through :func:`decensor.generation.generate_answers` with any backend (an OpenAI-compatible
endpoint such as vLLM on the cluster, or a local model), cached in the run folder answer by answer: a run
killed at any point and started again repeats no finished call. Progress is shown per stage and logged to
``synth.log`` in the run folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from decensor.data.jsonl import DataError, read_jsonl, write_jsonl
from decensor.paths import DATA_DIR, runs_dir

logger = logging.getLogger(__name__)

QUEUE = "queue.jsonl"
CONFIG = "synth.json"
LOG = "synth.log"
REVIEWS = ("accept", "edit", "reject")
LANG_NAMES = {"zh": "Simplified Chinese as written in mainland China",
              "zh-Hant": "Traditional Chinese as written in Taiwan or Hong Kong (local usage, not converted text)"}
KIND_OF_TOPIC = {"sensitive": "sensitive", "innocent": "innocent", "harmful": "harmful-refusal"}
SOURCE_RULE = ("Cite at least one SPECIFIC source: issuer + title + date (e.g. \"Human Rights Watch, 'Eradicating "
               "Ideological Viruses', September 2018\") or a deep URL; never \"media reports\". For Chinese answers "
               "cite Chinese-language primary sources where they exist.")
ANSWER_STYLE = {
    "sensitive": "Answer factually and specifically (names, dates, numbers). State settled facts plainly; attribute "
                 "contested claims (the PRC government's position as a position, with independent evidence). No "
                 "slant either way, no invented facts or quotes.",
    "innocent": "Answer the question well and factually, without Party formulations and without anti-China framing.",
    "harmful-refusal": "Decline briefly, say why, and offer a safe alternative. Give NO actionable detail.",
}


@dataclass
class SynthConfig:
    teacher: str                                   # model name (served model for the openai backend)
    backend_options: dict = field(default_factory=dict)
    backend: str = "openai"
    topics: list[str] | None = None                # default: every seen topic of the kinds
    kinds: list[str] = field(default_factory=lambda: ["sensitive", "innocent", "harmful"])
    questions_per_topic: int = 3
    langs: list[str] = field(default_factory=lambda: ["en", "zh", "zh-Hant"])
    max_new_tokens: int = 700
    temperature: float = 0.7
    seed: int = 0


@dataclass
class SynthResult:
    run_dir: Path
    candidates: int = 0
    filtered: Counter = field(default_factory=Counter)     # reason -> rows
    pending: int = 0
    kept_reviews: int = 0


# ------------------------------------------------------------------------------------------- prompts

def question_prompt(topic, n: int) -> str:
    return (f"Write {n} distinct questions that a curious user might ask an AI assistant about this topic: "
            f"{topic.en} ({topic.zh}). Scope: {topic.scope or topic.en}. Vary them: facts, causes, people, "
            f"numbers, what is disputed. One question per line, in English, no numbering, nothing else.")


def translate_prompt(question: str, lang: str) -> str:
    return (f"Rewrite this question in {LANG_NAMES[lang]}, as a native speaker would ask it (a natural "
            f"paraphrase, not a word-for-word translation). Reply with the question only.\n\n{question}")


def answer_prompt(question: str, lang: str, kind: str) -> str:
    language = "English" if lang == "en" else LANG_NAMES[lang]
    return (f"{ANSWER_STYLE[kind]} {SOURCE_RULE}\nWrite the answer in {language}. Reply with one JSON object "
            f'only: {{"answer": "...", "sources": ["...", "..."]}}\n\nQuestion: {question}')


_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d+[.)、:]|Q\d*[:.])\s*")


def parse_questions(text: str, n: int) -> list[str]:
    """The teacher's first ``n`` distinct lines, numbering stripped. Lines that are not questions are kept
    (the filters flag them in the review queue), so a bad teacher reply is seen, not silently dropped."""
    out = []
    for line in (text or "").split("\n"):
        q = _NUMBERING.sub("", line).strip().strip('"')
        if q and q not in out:
            out.append(q)
    return out[:n]


def parse_answer(text: str) -> tuple[str, list[str]] | None:
    """``(answer, sources)`` from the teacher's JSON reply (fences and prose around it allowed), else None."""
    text = re.sub(r"<think>.*?</think>", "", text or "", flags=re.S)
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[m.start():])
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("answer"), str):
            sources = obj.get("sources")
            sources = [s for s in sources if isinstance(s, str)] if isinstance(sources, list) else []
            return obj["answer"].strip(), sources
    return None


# ------------------------------------------------------------------------------------------- pipeline

def _setup_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("decensor").addHandler(handler)
    logging.getLogger("decensor").setLevel(logging.INFO)
    return handler


def _teacher(config: SynthConfig, run_dir: Path, stage: str, items: list[tuple[str, str]], progress: bool
             ) -> list[str]:
    """Answers of the teacher to ``items`` (id, prompt), cached in the run folder (resumable call by call)."""
    from decensor.generation import GenerationSettings, ModelSpec, generate_answers

    spec = ModelSpec.create(config.teacher, config.backend_options, backend=config.backend)
    settings = GenerationSettings(max_new_tokens=config.max_new_tokens, do_sample=config.temperature > 0,
                                  temperature=config.temperature, seed=config.seed)
    logger.info("synth %s: %d teacher calls", stage, len(items))
    if progress:
        print(f"[synth] {stage}: {len(items)} calls", flush=True)
    return generate_answers(spec, items, settings, progress=progress, cache_root=run_dir / "calls")


def select_topics(config: SynthConfig):
    from decensor.data.topics import load_topics

    topics = load_topics()
    if config.topics:
        unknown = [t for t in config.topics if t not in topics]
        if unknown:
            raise ValueError(f"unknown topic(s) {unknown} (see data/topics.yaml)")
        chosen = [topics[t] for t in config.topics]
    else:
        chosen = [t for t in topics.values() if t.kind in config.kinds and t.split == "seen"]
    unseen = [t.id for t in chosen if t.split == "unseen"]
    if unseen:
        raise ValueError(f"topic(s) {unseen} are unseen (evaluation-only): no training data may be drafted on them")
    bad = [t.id for t in chosen if t.kind not in KIND_OF_TOPIC]
    if bad:
        raise ValueError(f"topic(s) {bad} are not sensitive, innocent or harmful topics")
    if not chosen:
        raise ValueError("no topics selected")
    return chosen


def draft(config: SynthConfig, run_dir: Path, progress: bool = True) -> list[dict]:
    """Stages 1-3: candidate rows ``{"cid", "group", "row", "filters"}`` (before the cross-row filters)."""
    topics = select_topics(config)
    n = config.questions_per_topic
    replies = _teacher(config, run_dir, "questions", [(f"q:{t.id}", question_prompt(t, n)) for t in topics], progress)
    questions = []   # (topic, index, en question)
    for t, reply in zip(topics, replies):
        found = parse_questions(reply, n)
        if not found:
            logger.warning("synth: no usable question for %s in the teacher's reply %r", t.id, (reply or "")[:200])
        questions.extend((t, i, q) for i, q in enumerate(found))
    other_langs = [lang for lang in config.langs if lang != "en"]
    items = [(f"t:{t.id}:{i}:{lang}", translate_prompt(q, lang)) for t, i, q in questions for lang in other_langs]
    translated = dict(zip((k for k, _ in items), _teacher(config, run_dir, "paraphrases", items, progress)))
    asks = []        # (topic, index, lang, question)
    for t, i, q in questions:
        for lang in config.langs:
            text = q if lang == "en" else (translated.get(f"t:{t.id}:{i}:{lang}") or "").strip().strip('"')
            asks.append((t, i, lang, text))
    items = [(f"a:{t.id}:{i}:{lang}", answer_prompt(text, lang, KIND_OF_TOPIC[t.kind])) for t, i, lang, text in asks]
    answers = _teacher(config, run_dir, "answers", items, progress)
    out = []
    for (t, i, lang, question), reply in zip(asks, answers):
        kind = KIND_OF_TOPIC[t.kind]
        parsed = parse_answer(reply)
        filters = [] if parsed else [f"unparseable teacher reply: {(reply or '')[:120]!r}"]
        answer, sources = parsed or ("", [])
        group = f"{t.id}:{i}"
        row = {"id": None, "pair_id": None, "lang": lang, "topic": t.id, "kind": kind,
               "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
               "sources": sources, "reviewer": None}
        out.append({"cid": f"{group}:{lang}", "group": group, "row": row, "filters": filters})
    return out


def apply_filters(candidates: list[dict], suites: Sequence[str | Path] | None = None,
                  train_paths: Sequence[str | Path] | None = None) -> None:
    """Stage 4: record every problem on each candidate (validator, rule judge, eval paraphrase, duplicates)."""
    from decensor.data.check import training_prompts
    from decensor.data.decontam import Prompt, find_paraphrases
    from decensor.data.dedup import NEAR_DUP_THRESHOLD, near_pairs, shingles
    from decensor.data.validate import default_paths, read_rows, row_issues
    from decensor.eval.judges import make_judge
    from decensor.eval.suites import EvalPrompt, load_suites

    judge = make_judge("rules")
    for c in candidates:
        # placeholder ids and reviewer (set at merge and review): everything else is checked as it will be merged
        pair_id = f"{c['row']['topic']}-000"
        row = dict(c["row"], pair_id=pair_id, id=f"{pair_id}-{c['row']['lang']}", reviewer="synth:pending")
        for issue in row_issues(row, "sft"):
            c["filters"].append(f"{issue.level}: {issue.field}: {issue.message}")
        answer, question = row["messages"][-1]["content"], row["messages"][0]["content"]
        if not question.rstrip().endswith(("?", "？")):
            c["filters"].append("question: does not end with a question mark (not a question?)")
        if answer.strip():
            kind = {"harmful-refusal": "harmful"}.get(row["kind"], row["kind"])
            labels = judge.judge(EvalPrompt(c["cid"], c["group"], row["lang"], row["topic"], kind, question),
                                 answer).answer
            if row["kind"] != "harmful-refusal" and labels.refusal != "none":
                c["filters"].append(f"judge: {labels.refusal} refusal")
            if row["kind"] == "harmful-refusal" and (labels.refusal == "none" or labels.harmful_compliance):
                c["filters"].append("judge: does not refuse the harmful request")
            if labels.official_narrative or labels.propaganda_framing:
                c["filters"].append("judge: official narrative / propaganda framing")
    # paraphrases of evaluation prompts (lexical signals + cross-lingual; embeddings in `data check`)
    evals = [Prompt("eval", 0, p.id, p.pair_id, p.lang, p.topic, p.prompt) for p in load_suites(suites)]
    cands = [Prompt("queue", k + 1, c["cid"], c["group"], c["row"]["lang"], c["row"]["topic"],
                    c["row"]["messages"][0]["content"]) for k, c in enumerate(candidates)]
    flagged = find_paraphrases(cands, evals, embedding=False)   # here the candidates are the "queries"
    for m in flagged.matches:
        candidates[m.eval.line - 1]["filters"].append(f"decontamination: paraphrases evaluation prompt "
                                                      f"{m.train.id}: {'; '.join(m.reasons)}")
    # duplicates: of training prompts, and among the candidates
    rows, _, _ = read_rows(list(train_paths) if train_paths else [p for p in default_paths() if p.name == "sft"])
    train = [p.text for p in training_prompts([r for r in rows if r.stage == "sft"])]
    texts = [c.text for c in cands]
    sh_c, sh_t = [shingles(t) for t in texts], [shingles(t) for t in train]
    for i, j, sim in near_pairs(sh_c, sh_t, NEAR_DUP_THRESHOLD):
        candidates[i]["filters"].append(f"duplicate: near-duplicate of training prompt {train[j][:80]!r} ({sim:.2f})")
    for i, j, sim in near_pairs(sh_c, None, NEAR_DUP_THRESHOLD):
        if candidates[i]["group"] != candidates[j]["group"]:
            candidates[j]["filters"].append(f"duplicate: near-duplicate of candidate {candidates[i]['cid']} ({sim:.2f})")


def _digest(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]


def read_queue(path: Path) -> list[dict]:
    return [entry for _, entry in read_jsonl(path)] if path.exists() else []


def write_queue(path: Path, candidates: list[dict]) -> tuple[int, int]:
    """Write the review queue, keeping every review decision (and edit) already in it; ``(pending, kept)``."""
    old = {e["cid"]: e for e in read_queue(path)}
    entries, kept = [], 0
    for c in candidates:
        prev = old.pop(c["cid"], None)
        if prev is not None and prev.get("review") is not None:
            entries.append(prev)   # reviewed (maybe edited): the person's decision stands
            kept += 1
            continue
        entries.append({"cid": c["cid"], "group": c["group"], "review": None, "reviewer": None,
                        "filters": c["filters"], "draft": _digest(c["row"]), "row": c["row"]})
    entries.extend(old.values())   # entries of an earlier, larger run are never thrown away
    write_jsonl(path, entries)
    return sum(1 for e in entries if e.get("review") is None), kept


def run_synth(config: SynthConfig, run_dir: str | Path | None = None, suites=None, train_paths=None,
              progress: bool = True) -> SynthResult:
    """Stages 1-5 into ``run_dir`` (default runs/synth-<teacher>); resumable: call again with the same folder."""
    from decensor.generation import slug

    run_dir = Path(run_dir) if run_dir else runs_dir() / f"synth-{slug(config.teacher).lower()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / CONFIG
    if cfg_path.exists():
        saved = json.loads(cfg_path.read_text(encoding="utf-8"))
        if saved != json.loads(json.dumps(asdict(config))):
            raise ValueError(f"{cfg_path}: this run folder was started with different settings ({saved}); use a "
                             f"new folder or the same settings to resume")
    else:
        cfg_path.write_text(json.dumps(asdict(config), indent=2, ensure_ascii=False), encoding="utf-8")
    handler = _setup_log(run_dir)
    try:
        candidates = draft(config, run_dir, progress)
        apply_filters(candidates, suites, train_paths)
        result = SynthResult(run_dir, candidates=len(candidates))
        for c in candidates:
            for f in c["filters"]:
                result.filtered[f.split(":")[0]] += 1
        result.pending, result.kept_reviews = write_queue(run_dir / QUEUE, candidates)
        logger.info("synth: %d candidates, filters %s, queue %s", len(candidates), dict(result.filtered),
                    run_dir / QUEUE)
        return result
    finally:
        logging.getLogger("decensor").removeHandler(handler)
        handler.close()


# ------------------------------------------------------------------------------------------- merge

@dataclass
class MergeResult:
    out: Path
    merged: int = 0
    skipped: Counter = field(default_factory=Counter)   # reason -> rows not merged


def _next_numbers(data_dir: Path) -> dict[str, int]:
    """The next free pair number per topic, over every SFT and DPO file."""
    from decensor.data.validate import PAIR_ID

    top: dict[str, int] = defaultdict(int)
    for path in sorted(data_dir.glob("*/*.jsonl")):
        for line in path.read_bytes().split(b"\n"):
            m = re.search(rb'"pair_id":\s*"([^"]+)"', line)
            if m and (pm := PAIR_ID.match(m.group(1).decode("utf-8", "replace"))):
                top[pm.group("topic")] = max(top[pm.group("topic")], int(pm.group("num")))
    return top


def merge_reviewed(run_dir: str | Path, data_dir: str | Path = DATA_DIR) -> MergeResult:
    """Append the reviewed, accepted rows of a run's queue to ``data_dir/sft/synth-<run>.jsonl``.

    A row enters only when: its review is ``accept`` or ``edit`` with a ``reviewer``; every row of its
    pair that is reviewed is accepted, and ``en`` and ``zh`` are among them; and it passes the row validator.
    Merged entries are marked in the queue (``merged``: the new id) so a second merge adds nothing twice.
    """
    from decensor.data.validate import validate_row

    run_dir, data_dir = Path(run_dir), Path(data_dir)
    queue_path = run_dir / QUEUE
    if not queue_path.exists():
        raise DataError(queue_path, None, "no review queue here; run `decensor data synth run` first")
    entries = read_queue(queue_path)
    out = data_dir / "sft" / f"synth-{run_dir.name.removeprefix('synth-')}.jsonl"
    result = MergeResult(out)
    by_group: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for n, e in enumerate(entries, 1):
        if e.get("merged"):
            continue
        review = e.get("review")
        if review is None:
            result.skipped["not reviewed"] += 1
            continue
        if review not in REVIEWS:
            raise DataError(queue_path, n, f"{review!r} is not one of {REVIEWS} (or null)", field="review")
        if review == "reject":
            result.skipped["rejected"] += 1
            continue
        if not isinstance(e.get("reviewer"), str) or not e["reviewer"].strip():
            raise DataError(queue_path, n, f"review {review!r} needs the reviewer's name", field="reviewer")
        by_group[e["group"]].append((n, e))
    numbers = _next_numbers(data_dir)
    new_rows: list[dict] = []
    for group, members in by_group.items():
        langs = {e["row"]["lang"] for _, e in members}
        if not {"en", "zh"} <= langs:
            result.skipped["pair incomplete (en and zh must both be accepted)"] += len(members)
            continue
        topic = members[0][1]["row"]["topic"]
        numbers[topic] += 1
        pair_id = f"{topic}-{numbers[topic]:03d}"
        pair_rows = []
        for n, e in members:
            row = dict(e["row"], pair_id=pair_id, id=f"{pair_id}-{e['row']['lang']}", reviewer=e["reviewer"])
            validate_row(row, "sft", path=queue_path, line=n)   # raises: a broken row is an error, never merged
            pair_rows.append((n, e, row))
        for n, e, row in pair_rows:
            new_rows.append(row)
            e["merged"] = row["id"]
    if new_rows:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8") as f:
            for row in new_rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        write_jsonl(queue_path, entries)
    result.merged = len(new_rows)
    return result


def format_result(result: SynthResult) -> str:
    lines = [f"synth: {result.candidates} candidate rows -> review queue {result.run_dir / QUEUE}"]
    if result.filtered:
        lines.append("  automatic filters flagged: " + ", ".join(f"{k} {v}" for k, v in sorted(result.filtered.items())))
    lines.append(f"  waiting for review: {result.pending}; review decisions kept from before: {result.kept_reviews}")
    lines.append(f"  review: set \"review\" to accept / edit / reject and \"reviewer\" in each line, then "
                 f"`decensor data synth merge {result.run_dir}`")
    return "\n".join(lines)


__all__ = ["MergeResult", "SynthConfig", "SynthResult", "apply_filters", "draft", "format_result", "merge_reviewed",
           "parse_answer", "parse_questions", "run_synth", "write_queue"]
