"""Plain-language names the report uses for kinds of prompt and for languages."""

from decensor.data.topics import KINDS

KIND_TITLES = {
    "sensitive": "Sensitive topics (censored in the PRC)",
    "innocent": "Everyday topics",
    "harmful": "Harmful requests",
    "control": "Other countries' sensitive topics (control)",
}
KIND_ORDER = KINDS   # the taxonomy's order (data/topics.yaml kinds), not a second list
LANG_NAMES = {"en": "English", "zh": "Simplified Chinese", "zh-Hant": "Traditional Chinese"}
