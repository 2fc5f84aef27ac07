"""Evaluation: suites, judges, cached batched generation, metrics with confidence intervals, capability."""
