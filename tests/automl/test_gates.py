"""Promotion gates, and the params.yaml keys of evaluation and gates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.config import EvaluateParams, GateParams, GroupParams, parse_params
from automl.exceptions import ConfigError
from automl.fairness import compare_groups
from automl.gates import LOWER_IS_BETTER, GateCheck, check_gates, failures
from automl.predictions import Predictions
from tests.conftest import base_params

# What the evaluate stage writes to metrics.json for a binary search on roc_auc.
BINARY_METRICS: dict[str, Any] = {
    "metric": "roc_auc",
    "roc_auc": 0.8,
    "cv_roc_auc": 0.85,
    "cv_test_gap": 0.05,
    "rows": 900,
    "accuracy": 0.75,
    "balanced_accuracy": 0.7,
    "log_loss": 0.45,
    "average_precision": 0.88,
    "f1": 0.82,
    "brier": 0.16,
}
REGRESSION_METRICS: dict[str, Any] = {
    "metric": "neg_root_mean_squared_error",
    "neg_root_mean_squared_error": -2.5,
    "cv_neg_root_mean_squared_error": -2.4,
    "cv_test_gap": 0.1,
    "rows": 200,
    "rmse": 2.5,
    "mae": 1.75,
    "r2": 0.6,
}
PASSING_MONITOR: dict[str, Any] = {"status": "pass", "reasons": []}


def attribute(min_group_size: int = 30, **gaps: float | None) -> dict[str, Any]:
    """One attribute of fairness.json, as far as the gates read it."""
    return {"groups": [], "gaps": gaps, "left_out": [], "min_group_size": min_group_size}


def fairness_of(**attributes: dict[str, Any]) -> dict[str, Any]:
    return {"metric": "roc_auc", "attributes": attributes}


def check(
    gates: GateParams,
    *,
    metrics: dict[str, Any] | None = None,
    fairness: dict[str, Any] | None = None,
    monitoring: dict[str, Any] | None = PASSING_MONITOR,
    task: str = "binary",
) -> list[GateCheck]:
    return check_gates(
        gates,
        metrics=BINARY_METRICS if metrics is None else metrics,
        fairness=fairness_of() if fairness is None else fairness,
        monitoring=monitoring,
        task=task,
    )


def only(checks: list[GateCheck], gate: str) -> GateCheck:
    (found,) = [c for c in checks if c.gate == gate]
    return found


# --------------------------------------------------------------------------------------------
# test metrics: a floor, or a ceiling for errors and losses


def test_the_ceilings_are_the_errors_and_losses() -> None:
    assert frozenset({"log_loss", "brier", "rmse", "mae"}) == LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("name", "metrics", "at_limit", "beyond"),
    [
        ("roc_auc", BINARY_METRICS, 0.8, 0.8001),
        ("accuracy", BINARY_METRICS, 0.75, 0.7501),
        ("f1", BINARY_METRICS, 0.82, 0.83),
        ("r2", REGRESSION_METRICS, 0.6, 0.61),
    ],
)
def test_a_score_gate_is_a_floor(
    name: str, metrics: dict[str, Any], at_limit: float, beyond: float
) -> None:
    passed = only(check(GateParams(test_metrics={name: at_limit}), metrics=metrics), f"test {name}")
    assert passed.passed is True
    assert passed.value == metrics[name]
    assert passed.limit == at_limit
    assert passed.detail == f"test {name} must be at least {at_limit:g}"
    failed = only(check(GateParams(test_metrics={name: beyond}), metrics=metrics), f"test {name}")
    assert failed.passed is False
    lower = only(
        check(GateParams(test_metrics={name: at_limit - 0.1}), metrics=metrics), f"test {name}"
    )
    assert lower.passed is True


@pytest.mark.parametrize(
    ("name", "metrics", "at_limit", "beyond"),
    [
        ("log_loss", BINARY_METRICS, 0.45, 0.4499),
        ("brier", BINARY_METRICS, 0.16, 0.15),
        ("rmse", REGRESSION_METRICS, 2.5, 2.49),
        ("mae", REGRESSION_METRICS, 1.75, 1.7),
    ],
)
def test_an_error_gate_is_a_ceiling(
    name: str, metrics: dict[str, Any], at_limit: float, beyond: float
) -> None:
    passed = only(check(GateParams(test_metrics={name: at_limit}), metrics=metrics), f"test {name}")
    assert passed.passed is True
    assert passed.detail == f"test {name} must be at most {at_limit:g}"
    failed = only(check(GateParams(test_metrics={name: beyond}), metrics=metrics), f"test {name}")
    assert failed.passed is False
    assert failed.value == metrics[name]
    looser = only(
        check(GateParams(test_metrics={name: at_limit + 1}), metrics=metrics), f"test {name}"
    )
    assert looser.passed is True


def test_every_configured_metric_gets_one_check_in_order() -> None:
    gates = GateParams(test_metrics={"roc_auc": 0.7, "log_loss": 0.5, "f1": 0.9}, monitoring="fail")
    checks = check(gates)
    assert [(c.gate, c.passed) for c in checks] == [
        ("test roc_auc", True),
        ("test log_loss", True),
        ("test f1", False),
    ]


@pytest.mark.parametrize(
    ("name", "suggestion"), [("roc_aux", "roc_auc"), ("logloss", "log_loss"), ("Brier", "brier")]
)
def test_an_unknown_test_metric_is_a_config_error_with_a_hint(name: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as info:
        check(GateParams(test_metrics={name: 0.5}))
    message = str(info.value)
    assert message.startswith(f"register.gates.test_metrics.{name}: ")
    assert "measured no such metric" in message
    assert f"did you mean {suggestion!r}?" in message
    assert "measured: roc_auc, cv_roc_auc, cv_test_gap, accuracy," in message


def test_a_metric_of_the_other_task_and_non_scores_cannot_be_gated() -> None:
    with pytest.raises(ConfigError, match=r"test_metrics\.rmse: .*no such metric"):
        check(GateParams(test_metrics={"rmse": 1.0}))
    # "metric" names the search metric and "rows" counts rows: neither is a score.
    for name in ("metric", "rows"):
        with pytest.raises(ConfigError, match=f"test_metrics\\.{name}: "):
            check(GateParams(test_metrics={name: 1.0}))


def test_nothing_similar_means_no_hint() -> None:
    with pytest.raises(ConfigError) as info:
        check(GateParams(test_metrics={"zzzz": 1.0}))
    assert "did you mean" not in str(info.value)


# --------------------------------------------------------------------------------------------
# CV-test gap


def test_the_cv_test_gap_passes_at_its_limit_and_fails_beyond() -> None:
    at_limit = only(check(GateParams(max_cv_test_gap=0.05)), "max_cv_test_gap")
    assert at_limit.passed is True
    assert at_limit.value == 0.05
    assert at_limit.detail == "CV roc_auc minus test roc_auc is 0.0500"
    tighter = only(check(GateParams(max_cv_test_gap=0.04)), "max_cv_test_gap")
    assert tighter.passed is False
    assert tighter.limit == 0.04


def test_a_test_score_above_the_cv_score_passes_the_gap_gate() -> None:
    metrics = BINARY_METRICS | {"cv_test_gap": -0.03}
    assert only(check(GateParams(max_cv_test_gap=0.0), metrics=metrics), "max_cv_test_gap").passed


def test_no_gap_gate_without_a_limit() -> None:
    assert [c.gate for c in check(GateParams())] == ["monitoring"]


# --------------------------------------------------------------------------------------------
# fairness


def test_one_fairness_check_per_attribute_and_measure() -> None:
    fairness = fairness_of(
        Age=attribute(demographic_parity_difference=0.08, score_gap=0.02),
        Marital=attribute(demographic_parity_difference=0.12, score_gap=0.05),
    )
    gates = GateParams(
        fairness={"demographic_parity_difference": 0.1, "score_gap": 0.05}, monitoring="fail"
    )
    checks = check(gates, fairness=fairness)
    assert [(c.gate, c.passed, c.value, c.limit) for c in checks] == [
        ("demographic_parity_difference (Age)", True, 0.08, 0.1),
        ("demographic_parity_difference (Marital)", False, 0.12, 0.1),
        ("score_gap (Age)", True, 0.02, 0.05),
        ("score_gap (Marital)", True, 0.05, 0.05),
    ]
    assert checks[1].detail == (
        "demographic parity difference across Marital groups must be at most 0.1"
    )


def test_fairness_limits_per_attribute_gate_only_the_attributes_named() -> None:
    fairness = fairness_of(
        Age=attribute(demographic_parity_difference=0.45),
        Marital=attribute(demographic_parity_difference=0.12),
    )
    gates = GateParams(
        fairness={"demographic_parity_difference": {"Age": 0.6, "Marital": 0.1}},
        monitoring="fail",
    )
    checks = check(gates, fairness=fairness)
    assert [(c.gate, c.passed, c.limit) for c in checks] == [
        ("demographic_parity_difference (Age)", True, 0.6),
        ("demographic_parity_difference (Marital)", False, 0.1),
    ]
    only_marital = GateParams(
        fairness={"demographic_parity_difference": {"Marital": 0.2}}, monitoring="fail"
    )
    assert [c.gate for c in check(only_marital, fairness=fairness)] == [
        "demographic_parity_difference (Marital)"
    ]


def test_a_per_attribute_limit_for_an_attribute_not_compared_is_a_config_error() -> None:
    gates = GateParams(fairness={"equalized_odds_difference": {"Gender": 0.1}}, monitoring="fail")
    with pytest.raises(ConfigError, match=r"\['Gender'\] are not in evaluate.groups"):
        check(gates, fairness=fairness_of(Age=attribute(equalized_odds_difference=0.1)))


def test_a_negative_per_attribute_limit_is_refused() -> None:
    message = error_of(register={"gates": {"fairness": {"score_gap": {"Age": -0.1}}}})
    assert "register.gates.fairness.score_gap" in message


def test_an_unmeasurable_gap_fails_and_says_why() -> None:
    fairness = fairness_of(Age=attribute(min_group_size=50, equalized_odds_difference=None))
    gates = GateParams(fairness={"equalized_odds_difference": 0.2}, monitoring="fail")
    (found,) = check(gates, fairness=fairness)
    assert found.passed is False
    assert found.value is None
    assert "cannot be measured on Age" in found.detail
    assert "at least 50 test rows (evaluate.min_group_size)" in found.detail
    (message,) = failures([found])
    assert message.startswith("equalized_odds_difference (Age): cannot be measured")
    assert message.endswith("(measured not measured, limit 0.2)")


@pytest.mark.parametrize("fairness", [{}, {"metric": "roc_auc", "attributes": {}}])
def test_fairness_gates_without_groups_are_a_config_error(fairness: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        check(GateParams(fairness={"score_gap": 0.1}), fairness=fairness)
    message = str(info.value)
    assert "register.gates.fairness" in message
    assert "evaluate.groups" in message


def test_no_fairness_gates_need_no_groups() -> None:
    checks = check(GateParams(test_metrics={"roc_auc": 0.5}), fairness={})
    assert [c.gate for c in checks] == ["test roc_auc", "monitoring"]


@pytest.mark.parametrize("measure", ["demographic_parity_difference", "equalized_odds_difference"])
def test_classification_fairness_gates_on_regression_are_a_config_error(measure: str) -> None:
    fairness = fairness_of(Age=attribute(score_gap=0.1))
    with pytest.raises(ConfigError) as info:
        check(
            GateParams(fairness={measure: 0.1}),
            metrics=REGRESSION_METRICS,
            fairness=fairness,
            task="regression",
        )
    assert str(info.value).startswith(
        f"register.gates.fairness.{measure} applies to classification"
    )
    assert "score_gap" in str(info.value)


def test_score_gap_gates_regression() -> None:
    fairness = fairness_of(Age=attribute(score_gap=0.3))
    (found,) = check(
        GateParams(fairness={"score_gap": 0.25}, monitoring="fail"),
        metrics=REGRESSION_METRICS,
        fairness=fairness,
        task="regression",
    )
    assert (found.gate, found.passed, found.value) == ("score_gap (Age)", False, 0.3)


def test_gates_read_what_compare_groups_measures() -> None:
    # y = yes yes no no | yes no no no, predicted yes no yes no | yes yes no no:
    # selection rates 1/2 and 1/2, TPR 1/2 and 1, FPR 1/2 and 1/3.
    classes = np.asarray(["no", "yes"], dtype=object)
    p_yes = np.array([0.9, 0.3, 0.6, 0.4, 0.8, 0.7, 0.2, 0.1])
    proba = np.column_stack([1 - p_yes, p_yes])
    predictions = Predictions(
        "binary",
        np.asarray(["yes", "yes", "no", "no", "yes", "no", "no", "no"], dtype=object),
        classes[np.argmax(proba, axis=1)],
        proba,
        classes,
    )
    labels = pd.Series(["F"] * 4 + ["M"] * 4)
    found = compare_groups(predictions, labels, metric="roc_auc", min_group_size=4)
    gates = GateParams(
        fairness={"demographic_parity_difference": 0.0, "equalized_odds_difference": 0.4},
        monitoring="fail",
    )
    checks = check(gates, fairness=fairness_of(Sex=found))
    assert [(c.gate, c.passed) for c in checks] == [
        ("demographic_parity_difference (Sex)", True),
        ("equalized_odds_difference (Sex)", False),
    ]
    assert checks[1].value == pytest.approx(0.5)
    small = compare_groups(predictions, labels, metric="roc_auc", min_group_size=5)
    unmeasured = check(gates, fairness=fairness_of(Sex=small))
    assert [c.passed for c in unmeasured] == [False, False]
    assert all("at least 5 test rows" in c.detail for c in unmeasured)


# --------------------------------------------------------------------------------------------
# monitoring


@pytest.mark.parametrize(
    ("worst", "status", "passed"),
    [
        ("pass", "pass", True),
        ("pass", "warn", False),
        ("pass", "fail", False),
        ("warn", "pass", True),
        ("warn", "warn", True),
        ("warn", "fail", False),
        ("warn", "error", False),
    ],
)
def test_monitoring_status_is_ranked_pass_warn_fail(worst: str, status: str, passed: bool) -> None:
    monitoring = {"status": status, "reasons": ["drift in Age", "Income has nulls"]}
    (found,) = check(GateParams(monitoring=worst), monitoring=monitoring)  # type: ignore[arg-type]
    assert (found.gate, found.passed, found.value, found.limit) == (
        "monitoring",
        passed,
        status,
        worst,
    )
    assert found.detail == (
        f"monitoring status {status} (worst accepted: {worst}): drift in Age; Income has nulls"
    )


def test_a_missing_monitoring_result_fails() -> None:
    (found,) = check(GateParams(monitoring="warn"), monitoring=None)
    assert found.passed is False
    assert found.value is None
    assert "run the monitor stage" in found.detail
    (plain,) = check(GateParams(monitoring="pass"), monitoring={"status": "pass"})
    assert plain.detail.endswith(": no findings")


@pytest.mark.parametrize("monitoring", [None, {"status": "fail", "reasons": ["drift"]}])
def test_monitoring_fail_accepts_anything_and_adds_no_check(
    monitoring: dict[str, Any] | None,
) -> None:
    assert check(GateParams(monitoring="fail"), monitoring=monitoring) == []


# --------------------------------------------------------------------------------------------
# failures


def test_failures_name_the_gate_the_measured_value_and_the_limit() -> None:
    gates = GateParams(
        test_metrics={"roc_auc": 0.85, "log_loss": 0.5},
        max_cv_test_gap=0.01,
        fairness={"score_gap": 0.1},
        monitoring="pass",
    )
    checks = check(
        gates,
        fairness=fairness_of(Age=attribute(score_gap=0.123456)),
        monitoring={"status": "warn", "reasons": ["drift in Age"]},
    )
    assert [c.gate for c in checks] == [
        "test roc_auc",
        "test log_loss",
        "max_cv_test_gap",
        "score_gap (Age)",
        "monitoring",
    ]
    assert failures(checks) == [
        "test roc_auc: test roc_auc must be at least 0.85 (measured 0.8, limit 0.85)",
        "max_cv_test_gap: CV roc_auc minus test roc_auc is 0.0500 (measured 0.05, limit 0.01)",
        "score_gap (Age): score gap across Age groups must be at most 0.1 "
        "(measured 0.1235, limit 0.1)",
        "monitoring: monitoring status warn (worst accepted: pass): drift in Age "
        "(measured warn, limit pass)",
    ]


def test_no_failures_when_everything_passes() -> None:
    checks = check(GateParams(test_metrics={"roc_auc": 0.5}, max_cv_test_gap=0.1))
    assert all(c.passed for c in checks)
    assert failures(checks) == []


def test_a_check_is_a_plain_record() -> None:
    found = GateCheck("test roc_auc", False, 0.7, 0.8, "test roc_auc must be at least 0.8")
    assert found.as_dict() == {
        "gate": "test roc_auc",
        "passed": False,
        "value": 0.7,
        "limit": 0.8,
        "detail": "test roc_auc must be at least 0.8",
    }


# --------------------------------------------------------------------------------------------
# params.yaml: evaluate and register.gates


def error_of(**sections: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(base_params(**sections))
    return str(info.value)


def test_evaluation_and_gate_defaults() -> None:
    raw = base_params()
    del raw["evaluate"]  # the tests' defaults shorten the bootstrap
    params = parse_params(raw)
    assert params.evaluate == EvaluateParams(
        bootstrap=1000, confidence=0.95, seed=0, n_jobs=1, groups=[], min_group_size=30
    )
    assert params.register.gates == GateParams(
        test_metrics={}, max_cv_test_gap=None, fairness={}, monitoring="warn"
    )


def test_a_full_evaluation_and_gates_section_is_read() -> None:
    params = parse_params(
        base_params(
            evaluate={
                "bootstrap": 100,
                "groups": [{"column": "Age", "bands": [25, 35, 50]}, {"column": "Marital"}],
                "min_group_size": 20,
            },
            register={
                "gates": {
                    "test_metrics": {"roc_auc": 0.7, "log_loss": 0.6},
                    "max_cv_test_gap": 0.05,
                    "fairness": {"equalized_odds_difference": 0.2},
                    "monitoring": "pass",
                }
            },
        )
    )
    assert params.evaluate.groups == [
        GroupParams(column="Age", bands=[25.0, 35.0, 50.0]),
        GroupParams(column="Marital", bands=None),
    ]
    assert params.evaluate.bootstrap == 100
    assert params.evaluate.min_group_size == 20
    assert params.register.gates.test_metrics == {"roc_auc": 0.7, "log_loss": 0.6}
    # One number is the limit of every attribute.
    assert params.register.gates.fairness == {"equalized_odds_difference": {"*": 0.2}}
    assert params.register.gates.monitoring == "pass"


@pytest.mark.parametrize("bands", [[35, 25], [25, 25], [25, 50, 35]])
def test_bands_must_ascend(bands: list[int]) -> None:
    message = error_of(
        evaluate={"groups": [{"column": "Marital"}, {"column": "Age", "bands": bands}]}
    )
    assert "evaluate.groups[1]: bands must be cut points in ascending order, e.g. [25, 35, 50]" in (
        message
    )


def test_bands_must_not_be_empty() -> None:
    message = error_of(evaluate={"groups": [{"column": "Age", "bands": []}]})
    assert "evaluate.groups[0]: bands must list at least one cut point (or be null)" in message


def test_a_column_may_be_grouped_once() -> None:
    message = error_of(evaluate={"groups": [{"column": "Age", "bands": [30]}, {"column": "Age"}]})
    assert "params.yaml: evaluate: groups must name each column once" in message


@pytest.mark.parametrize("resamples", [1, 50, 99])
def test_bootstrap_is_off_or_at_least_100(resamples: int) -> None:
    message = error_of(evaluate={"bootstrap": resamples})
    assert "evaluate: bootstrap must be 0 (no intervals) or at least 100 resamples" in message


@pytest.mark.parametrize("resamples", [0, 100])
def test_bootstrap_edges_are_accepted(resamples: int) -> None:
    assert parse_params(base_params(evaluate={"bootstrap": resamples})).evaluate.bootstrap == (
        resamples
    )


def test_an_unknown_fairness_measure_is_named_with_a_hint() -> None:
    message = error_of(register={"gates": {"fairness": {"demographic_parity": 0.1}}})
    assert "register.gates.fairness.demographic_parity" in message
    assert "unknown fairness measure; did you mean 'demographic_parity_difference'?" in message
    assert "known: demographic_parity_difference, equalized_odds_difference, score_gap" in message


def test_an_unknown_fairness_measure_path_is_the_key_as_written() -> None:
    message = error_of(register={"gates": {"fairness": {"demographic_parity": 0.1}}})
    assert "[key]" not in message


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (
            {"register": {"gates": {"fairness": {"score_gap": -0.1}}}},
            "register.gates.fairness.score_gap = -0.1: input should be greater than or equal to 0",
        ),
        (
            {"register": {"gates": {"max_cv_test_gap": -1}}},
            "register.gates.max_cv_test_gap = -1: input should be greater than or equal to 0",
        ),
        (
            {"register": {"gates": {"monitoring": "maybe"}}},
            "register.gates.monitoring = \"maybe\": must be one of 'pass', 'warn' or 'fail'",
        ),
        (
            {"register": {"gates": {"test_metrics": {"roc_auc": "high"}}}},
            'register.gates.test_metrics.roc_auc = "high": must be a number, not a string',
        ),
        (
            {"register": {"gates": {"tests_metrics": {}}}},
            "register.gates.tests_metrics: unknown key; did you mean 'test_metrics'?",
        ),
        (
            {"evaluate": {"min_group_size": 0}},
            "evaluate.min_group_size = 0: must be at least 1",
        ),
        (
            {"evaluate": {"confidence": 1.0}},
            "evaluate.confidence = 1.0: must be between 0 and 1",
        ),
        (
            {"evaluate": {"groups": [{"column": " "}]}},
            'evaluate.groups[0].column = " ": must not be empty',
        ),
        (
            {"evaluate": {"groups": [{"column": "Age", "band": [30]}]}},
            "evaluate.groups[0].band: unknown key; did you mean 'bands'?",
        ),
    ],
)
def test_other_bad_values_are_refused_naming_the_key(
    sections: dict[str, Any], expected: str
) -> None:
    assert expected in error_of(**sections)
