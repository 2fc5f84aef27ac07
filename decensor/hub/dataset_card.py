"""The dataset card (README.md with YAML metadata) for the curated SFT / DPO data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

CONFIGS = ("sft", "dpo")


def _rows(folder: Path) -> list[dict]:
    """Every row of the folder's JSONL files; a malformed line raises with its file and line number."""
    from decensor.data.jsonl import read_jsonl

    return [row for path in sorted(folder.glob("*.jsonl")) for _, row in read_jsonl(path)]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def _strip_front_matter(text: str) -> tuple[dict, str]:
    import yaml

    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            meta = yaml.safe_load(text[4:end]) or {}
            return (meta if isinstance(meta, dict) else {}), text[end + 4:].lstrip("\n")
    return {}, text


def build_dataset_card(data_dir: str | Path, repo_id: str) -> str:
    """README.md for the dataset repo. An existing ``data/README.md`` keeps its text (and any metadata it
    has); the required metadata (license, languages, task categories, sft/dpo configs) is filled in."""
    from huggingface_hub import DatasetCard, DatasetCardData

    data_dir = Path(data_dir)
    stats = {name: _rows(data_dir / name) for name in CONFIGS if (data_dir / name).is_dir()}
    total = sum(len(r) for r in stats.values())
    existing_meta, existing_body = {}, ""
    if (data_dir / "README.md").exists():
        existing_meta, existing_body = _strip_front_matter((data_dir / "README.md").read_text(encoding="utf-8"))
    configs = [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/*.jsonl"}]}
               for name in stats]
    meta = {
        "license": "cc-by-4.0", "language": ["en", "zh"], "pretty_name": "decensor: bilingual anti-censorship SFT and DPO data",
        "task_categories": ["text-generation"], "tags": ["decensor", "censorship", "china", "sft", "dpo",
                                                         "preference", "bilingual"],
        "size_categories": [_size_category(max(total, 1))], "configs": configs,
    }
    meta.update({k: v for k, v in existing_meta.items() if k not in ("configs",)})
    for key, value in (("license", "cc-by-4.0"), ("configs", configs)):
        meta.setdefault(key, value)
    meta["configs"] = configs
    data = DatasetCardData(**meta)
    name = repo_id.split("/")[-1]
    if existing_body.strip():
        body = existing_body.rstrip() + "\n"
    else:
        lines = [f"# {name}", "",
                 "Bilingual (English / Chinese: Simplified, and Traditional for some questions) question-answer data to post-train Chinese open-weight "
                 "language models so that they answer questions on topics censored in the PRC factually, "
                 "attributing the government's position rather than refusing or repeating it, without adding "
                 "Party framing to everyday topics and while still refusing clearly harmful requests.", "",
                 "## Configurations", "",
                 "- `sft`: chat conversations (`messages`) for supervised fine-tuning.",
                 "- `dpo`: preference pairs (`prompt`, `chosen`, `rejected`, `rejected_type`) in TRL's "
                 "conversational format; `chosen` is the SFT answer, `rejected` one typed failure (`rejected_type`: "
                 "a refusal, the official line, Party framing, a subtle leak, the opposite slant, an invented fact, "
                 "or for harmful requests a non-actionable start of compliance).", "",
                 "Every row has `id`, `pair_id` (the English and Chinese rows of one question share it), `lang`, "
                 "`topic` (an id from `topics.yaml`), `kind` and `sources`. See `SCHEMA.md` for the full format.",
                 "", "## Statistics", ""]
        for cfg, rows in stats.items():
            kinds = Counter(r.get("kind") for r in rows)
            langs = Counter(r.get("lang") for r in rows)
            topics = len({r.get("topic") for r in rows})
            rejected = Counter(r.get("rejected_type") for r in rows if r.get("rejected_type"))
            lines.append(f"- `{cfg}`: {len(rows)} rows, {topics} topics; kinds "
                         + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items(), key=str))
                         + "; languages " + ", ".join(f"{k}={v}" for k, v in sorted(langs.items(), key=str))
                         + ("; rejected types " + ", ".join(f"{k}={v}" for k, v in sorted(rejected.items()))
                            if rejected else ""))
        lines += ["", "## Sources and curation", "",
                  "Answers were written from public sources listed in each row's `sources` field (news reports, "
                  "NGO and UN reports, academic work, official PRC statements quoted with attribution).", "",
                  "## Limitations", "",
                  "- A small, curated set: it covers the topics in `topics.yaml`, not every censored subject.",
                  "- Answers are summaries; facts that are disputed are marked as such, but errors are possible.",
                  "- Rejected answers imitate typical censored replies and are not real model outputs unless mined "
                  "on-policy.", "",
                  "## License", "", "CC BY 4.0.", ""]
        body = "\n".join(lines)
    card = DatasetCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}\n", body=body)
    return str(card)
