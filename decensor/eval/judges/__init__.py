"""Judges label answers: refusal, official narrative, propaganda framing, facts, harmful compliance."""

from decensor.eval import JUDGES
from decensor.eval.judges.base import Judge, Judgement, Labels, split_reasoning
from decensor.eval.judges.rules import RuleJudge


def make_judge(name: str = "rules", url: str | None = None, model: str | None = None) -> Judge:
    """``rules``: the phrase rules (the default); ``rules+model``: plus the learned framing classifier for innocent
    topics (opt-in: more recall on written leaks, poor precision on real model answers, see judge-check);
    ``llm``: an OpenAI-compatible model with our rubric."""
    if name == "rules":
        return RuleJudge()
    if name == "rules+model":
        return RuleJudge(framing_model=True)
    if name == "llm":
        from decensor.eval.judges.llm import LLMJudge

        if not url or not model:
            raise ValueError("the llm judge needs --judge-url (an OpenAI-compatible base URL) and --judge-model")
        return LLMJudge(base_url=url, model=model)
    raise ValueError(f"unknown judge {name!r}; choose one of {JUDGES}")


__all__ = ["JUDGES", "Judge", "Judgement", "Labels", "RuleJudge", "make_judge", "split_reasoning"]
