from decensor.eval.capability import capability_verdict, run_capability


def test_lm_eval_runs_our_local_task_on_a_tiny_model_with_an_adapter(tiny_model_dir, tmp_path):
    from decensor.testing import build_tiny_adapter

    base_dir = tiny_model_dir("qwen2")
    build_tiny_adapter(base_dir, tmp_path / "adapter")
    base = run_capability(base_dir, limit=8, batch_size=8)
    tuned = run_capability(base_dir, adapter=str(tmp_path / "adapter"), limit=8, batch_size=8)
    task = base["tasks"]["decensor_local_mc"]
    assert task["metric"] in ("acc", "acc_norm") and 0.0 <= task["value"] <= 1.0
    assert base["n_samples"]["decensor_local_mc"] == 8
    gate = capability_verdict(base, tuned, min_drop=1.0)
    assert gate["passed"] and "decensor_local_mc" in gate["tasks"]


def test_regression_gate_flags_drops_beyond_the_allowed_minimum():
    base = {"tasks": {"mmlu": {"metric": "acc", "value": 0.70}, "gsm8k": {"metric": "exact_match", "value": 0.50}}}
    tuned = {"tasks": {"mmlu": {"metric": "acc", "value": 0.69}, "gsm8k": {"metric": "exact_match", "value": 0.40}}}
    gate = capability_verdict(base, tuned, min_drop={"mmlu": 0.02, "gsm8k": 0.05})
    assert gate["regressed"] == ["gsm8k"] and not gate["passed"]
    assert not gate["tasks"]["mmlu"]["regressed"]


def test_regression_gate_needs_a_drop_beyond_two_standard_errors_and_the_minimum():
    base = {"tasks": {"small": {"metric": "acc", "value": 0.70, "stderr": 0.06},
                      "large": {"metric": "acc", "value": 0.70, "stderr": 0.004}}}
    tuned = {"tasks": {"small": {"metric": "acc", "value": 0.58, "stderr": 0.06},
                       "large": {"metric": "acc", "value": 0.685, "stderr": 0.004}}}
    gate = capability_verdict(base, tuned)
    # small: a 12-point drop is within 2 SE (0.17) of noise; large: 1.5 points is beyond 2 SE but below 2 points
    assert gate["passed"] and gate["tasks"]["small"]["threshold"] > 0.16
    tuned["tasks"]["small"]["value"], tuned["tasks"]["large"]["value"] = 0.50, 0.67
    assert capability_verdict(base, tuned)["regressed"] == ["small", "large"]
    assert capability_verdict(None, tuned) is None
