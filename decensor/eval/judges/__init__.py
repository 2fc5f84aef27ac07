"""Judges label answers: refusal, official narrative, propaganda framing, facts, harmful compliance."""

from decensor.eval.judges.base import Judge, Judgement, Labels, split_reasoning
from decensor.eval.judges.rules import RuleJudge


JUDGES = ("rules", "rules-phrases", "llm")


def make_judge(name: str = "rules", url: str | None = None, model: str | None = None) -> Judge:
    """``rules``: phrase rules plus the learned framing model (the default); ``rules-phrases``: the phrase rules
    alone (to measure what the model adds); ``llm``: an OpenAI-compatible model with our rubric."""
    if name == "rules":
        return RuleJudge()
    if name == "rules-phrases":
        return RuleJudge(framing_model=False)
    if name == "llm":
        from decensor.eval.judges.llm import LLMJudge

        if not url or not model:
            raise ValueError("the llm judge needs --judge-url (an OpenAI-compatible base URL) and --judge-model")
        return LLMJudge(base_url=url, model=model)
    raise ValueError(f"unknown judge {name!r}; choose one of {JUDGES}")


__all__ = ["JUDGES", "Judge", "Judgement", "Labels", "RuleJudge", "make_judge", "split_reasoning"]
