"""Plain-language names the report uses for kinds of prompt and for languages."""

KIND_TITLES = {
    "sensitive": "Sensitive topics (censored in the PRC)",
    "innocent": "Everyday topics",
    "harmful": "Harmful requests",
    "control": "Other countries' sensitive topics (control)",
}
KIND_ORDER = ("sensitive", "innocent", "harmful", "control")
LANG_NAMES = {"en": "English", "zh": "Simplified Chinese", "zh-Hant": "Traditional Chinese"}
