"""Evaluation: suites, judges, cached batched generation, metrics with confidence intervals, capability."""

# The judges `make_judge` builds (decensor.eval.judges). Kept here, in a module that imports nothing, so the CLI
# can offer them as choices without compiling the rule judge's phrase lists at every start-up.
JUDGES = ("rules", "rules+model", "llm")
