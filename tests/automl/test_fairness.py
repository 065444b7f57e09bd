"""Groups of a sensitive attribute, stored predictions and bootstrap intervals.

Every expected number below is worked out by hand from the small tables built here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.evaluate import bootstrap_intervals, metrics_on
from automl.exceptions import DataError
from automl.fairness import MISSING, compare_groups, group_labels
from automl.predictions import Predictions, predict, score

# Tiny tables make scikit-learn warn (one class present, ill-defined F-score): expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:sklearn")

# --------------------------------------------------------------------------------------------
# builders


Column = Sequence[Any] | np.ndarray[Any, Any]


def binary(y: Column, p_positive: Column, classes: Sequence[Any] = ("no", "yes")) -> Predictions:
    """Two-class predictions; the predicted class is the likelier one, as in ``predict``."""
    labels = np.asarray(classes, dtype=object if isinstance(classes[0], str) else None)
    positive = np.asarray(p_positive, dtype=float)
    proba = np.column_stack([1 - positive, positive])
    return Predictions("binary", np.asarray(y), labels[np.argmax(proba, axis=1)], proba, labels)


def multiclass(y: Sequence[str], predicted: Sequence[str]) -> Predictions:
    """Three classes a, b, c; the predicted class gets probability 0.8, the others 0.1."""
    classes = np.asarray(["a", "b", "c"], dtype=object)
    proba = np.full((len(y), 3), 0.1)
    proba[np.arange(len(y)), [list(classes).index(p) for p in predicted]] = 0.8
    return Predictions("multiclass", np.asarray(y), np.asarray(predicted), proba, classes)


def by_group(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["group"]: g for g in found["groups"]}


# Three groups, rows interleaved so that grouping must follow the labels, not the order.
#   A: y = yes yes no no,       p(yes) = .9 .3 .6 .4      -> predicted yes no yes no
#   B: y = yes no no no no,     p(yes) = .8 .9 .2 .1 .3   -> predicted yes yes no no no
#   C: y = yes no,              p(yes) = .1 .9            -> predicted no yes
ROWS = [
    ("A", "yes", 0.9),
    ("B", "yes", 0.8),
    ("C", "yes", 0.1),
    ("A", "yes", 0.3),
    ("B", "no", 0.9),
    ("A", "no", 0.6),
    ("B", "no", 0.2),
    ("C", "no", 0.9),
    ("A", "no", 0.4),
    ("B", "no", 0.1),
    ("B", "no", 0.3),
]


@pytest.fixture
def three_groups() -> tuple[Predictions, pd.Series]:
    groups, y, p = zip(*ROWS, strict=True)
    return binary(y, p), pd.Series(groups, name="Branch")


# --------------------------------------------------------------------------------------------
# group_labels


def test_bands_label_every_value_with_its_half_open_band() -> None:
    ages = pd.Series([18, 24.9, 25, 34, 35, 49.99, 50, 70, np.nan], name="Age")
    labels = group_labels(ages, bands=[25, 35, 50], where="evaluate.groups[0]")
    assert labels.tolist() == [
        "<25",
        "<25",
        "[25, 35)",
        "[25, 35)",
        "[35, 50)",
        "[35, 50)",
        "≥50",
        "≥50",
        MISSING,
    ]
    assert MISSING == "(missing)"
    assert labels.index.equals(ages.index)


def test_one_cut_point_gives_two_bands_and_fractions_keep_their_digits() -> None:
    assert group_labels(pd.Series([29, 30, 31]), bands=[30], where="w").tolist() == [
        "<30",
        "≥30",
        "≥30",
    ]
    values = pd.Series([0.2, 0.5, 2.4, 2.5])
    assert group_labels(values, bands=[0.5, 2.5], where="w").tolist() == [
        "<0.5",
        "[0.5, 2.5)",
        "[0.5, 2.5)",
        "≥2.5",
    ]


def test_a_nullable_integer_column_can_be_banded() -> None:
    values = pd.Series([1, None, 3], dtype="Int64", name="Children")
    assert group_labels(values, bands=[2], where="w").tolist() == ["<2", MISSING, "≥2"]


def test_without_bands_each_value_is_a_group_and_missing_values_are_one_group() -> None:
    values = pd.Series(["married", None, "single", np.nan], index=[10, 11, 12, 13])
    labels = group_labels(values, bands=None, where="w")
    assert labels.tolist() == ["married", MISSING, "single", MISSING]
    assert labels.index.tolist() == [10, 11, 12, 13]
    assert group_labels(pd.Series([True, False]), bands=None, where="w").tolist() == [
        "True",
        "False",
    ]


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["married", "single"], name="Marital"),
        pd.Series([True, False], name="Marital"),
        pd.Series(["1", "2"], dtype="category", name="Marital"),
    ],
    ids=["strings", "booleans", "category"],
)
def test_bands_on_a_non_numeric_column_are_a_data_error_naming_it(values: pd.Series) -> None:
    with pytest.raises(DataError) as info:
        group_labels(values, bands=[1], where="evaluate.groups[2]")
    message = str(info.value)
    assert message.startswith("evaluate.groups[2]: column 'Marital' is not numeric")
    assert "remove `bands`" in message


# --------------------------------------------------------------------------------------------
# compare_groups: two classes


def test_binary_groups_have_hand_computed_rates(
    three_groups: tuple[Predictions, pd.Series],
) -> None:
    predictions, labels = three_groups
    found = compare_groups(predictions, labels, metric="roc_auc", min_group_size=4)
    groups = by_group(found)
    assert [g["group"] for g in found["groups"]] == ["A", "B", "C"]
    expected = {
        # rows, base rate, selection rate, TPR, FPR, accuracy, AUC (of the positive class, yes)
        "A": (4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5),
        "B": (5, 0.2, 0.4, 1.0, 0.25, 0.8, 0.75),
        "C": (2, 0.5, 0.5, 0.0, 1.0, 0.0, 0.0),
    }
    for name, (rows, base, selected, tpr, fpr, accuracy, auc) in expected.items():
        group = groups[name]
        assert group["rows"] == rows
        assert group["share"] == pytest.approx(rows / 11)
        assert group["base_rate"] == pytest.approx(base)
        assert group["selection_rate"] == pytest.approx(selected)
        assert group["tpr"] == pytest.approx(tpr)
        assert group["fpr"] == pytest.approx(fpr)
        assert group["accuracy"] == pytest.approx(accuracy)
        assert group["roc_auc"] == pytest.approx(auc)
        assert "classes" not in group
    assert found["min_group_size"] == 4


def test_small_groups_are_reported_but_left_out_of_the_gaps(
    three_groups: tuple[Predictions, pd.Series],
) -> None:
    predictions, labels = three_groups
    found = compare_groups(predictions, labels, metric="roc_auc", min_group_size=4)
    assert {g["group"]: g["in_gaps"] for g in found["groups"]} == {
        "A": True,
        "B": True,
        "C": False,
    }
    assert found["left_out"] == ["C"]
    # Over A and B only: selection .5 vs .4, TPR .5 vs 1, FPR .5 vs .25, AUC .5 vs .75.
    assert found["gaps"] == pytest.approx(
        {
            "score_gap": 0.25,
            "demographic_parity_difference": 0.1,
            "equalized_odds_difference": 0.5,
        }
    )


def test_the_same_rows_with_every_group_judged_have_wider_gaps(
    three_groups: tuple[Predictions, pd.Series],
) -> None:
    predictions, labels = three_groups
    found = compare_groups(predictions, labels, metric="roc_auc", min_group_size=2)
    assert found["left_out"] == []
    # C joins: TPR 0 (gap 1), FPR 1 (gap .75), AUC 0 (gap .75); selection rates unchanged.
    assert found["gaps"] == pytest.approx(
        {
            "score_gap": 0.75,
            "demographic_parity_difference": 0.1,
            "equalized_odds_difference": 1.0,
        }
    )


def test_every_gap_is_none_when_fewer_than_two_groups_qualify(
    three_groups: tuple[Predictions, pd.Series],
) -> None:
    predictions, labels = three_groups
    found = compare_groups(predictions, labels, metric="roc_auc", min_group_size=5)
    assert found["left_out"] == ["A", "C"]
    assert found["gaps"] == {
        "score_gap": None,
        "demographic_parity_difference": None,
        "equalized_odds_difference": None,
    }
    nobody = compare_groups(predictions, labels, metric="roc_auc", min_group_size=100)
    assert nobody["left_out"] == ["A", "B", "C"]
    assert set(nobody["gaps"].values()) == {None}


def test_undefined_rates_are_skipped_not_fatal() -> None:
    # X has no positives: no TPR and no AUC. Y: y = yes no no, predicted yes no no.
    predictions = binary(["no", "no", "no", "yes", "no", "no"], [0.6, 0.2, 0.1, 0.7, 0.3, 0.2])
    labels = pd.Series(["X", "X", "X", "Y", "Y", "Y"])
    found = compare_groups(predictions, labels, metric="roc_auc", min_group_size=3)
    groups = by_group(found)
    assert groups["X"]["tpr"] is None
    assert groups["X"]["roc_auc"] is None
    assert groups["X"]["fpr"] == pytest.approx(1 / 3)
    assert groups["Y"]["roc_auc"] == pytest.approx(1.0)
    # Only Y has an AUC and a TPR, so those gaps fall away; FPR 1/3 vs 0 remains.
    assert found["gaps"]["score_gap"] is None
    assert found["gaps"]["equalized_odds_difference"] == pytest.approx(1 / 3)
    assert found["gaps"]["demographic_parity_difference"] == pytest.approx(0.0)


def test_missing_values_form_a_group_listed_last() -> None:
    ages = pd.Series([20.0, np.nan, 40, 22, np.nan, 41], name="Age")
    labels = group_labels(ages, bands=[30], where="evaluate.groups[0]")
    predictions = binary(["no", "yes", "yes", "no", "no", "yes"], [0.2, 0.9, 0.7, 0.6, 0.4, 0.8])
    found = compare_groups(predictions, labels, metric="accuracy", min_group_size=2)
    assert [g["group"] for g in found["groups"]] == ["<30", "≥30", "(missing)"]
    missing = by_group(found)[MISSING]
    assert missing["rows"] == 2
    assert missing["share"] == pytest.approx(1 / 3)
    assert missing["in_gaps"] is True
    # accuracy: <30 1/2 (row 22 predicted yes), ≥30 1, (missing) 1
    assert found["gaps"]["score_gap"] == pytest.approx(0.5)


# --------------------------------------------------------------------------------------------
# compare_groups: more than two classes, and regression


def test_multiclass_gaps_are_the_largest_over_classes_one_vs_rest() -> None:
    predictions = multiclass(
        ["a", "b", "c", "a", "b", "b", "c"],
        ["a", "b", "c", "a", "a", "b", "c"],
    )
    labels = pd.Series(["G1"] * 3 + ["G2"] * 4)
    found = compare_groups(predictions, labels, metric="accuracy", min_group_size=3)
    g1, g2 = by_group(found)["G1"], by_group(found)["G2"]
    assert "selection_rate" not in g2
    assert g1["classes"] == {
        cls: {"base_rate": 1 / 3, "selection_rate": 1 / 3, "tpr": 1.0, "fpr": 0.0}
        for cls in ("a", "b", "c")
    }
    expected = {
        "a": {"base_rate": 0.25, "selection_rate": 0.5, "tpr": 1.0, "fpr": 1 / 3},
        "b": {"base_rate": 0.5, "selection_rate": 0.25, "tpr": 0.5, "fpr": 0.0},
        "c": {"base_rate": 0.25, "selection_rate": 0.25, "tpr": 1.0, "fpr": 0.0},
    }
    assert set(g2["classes"]) == set(expected)
    for cls, rates in expected.items():
        assert g2["classes"][cls] == pytest.approx(rates), cls
    assert g1["accuracy"] == 1.0
    assert g2["accuracy"] == pytest.approx(0.75)
    # Parity: class a, 1/2 - 1/3; odds: class b's TPR, 1 - 1/2 (a's FPR gap is only 1/3).
    assert found["gaps"] == pytest.approx(
        {
            "score_gap": 0.25,
            "demographic_parity_difference": 1 / 6,
            "equalized_odds_difference": 0.5,
        }
    )


def test_regression_groups_have_errors_and_only_a_score_gap() -> None:
    y = np.array([1.0, 2.0, 3.0, 10.0, 10.0])
    predicted = np.array([1.0, 2.0, 5.0, 11.0, 9.0])
    predictions = Predictions("regression", y, predicted, None, None)
    labels = pd.Series(["P", "P", "P", "Q", "Q"])
    found = compare_groups(predictions, labels, metric="neg_mean_absolute_error", min_group_size=2)
    p, q = by_group(found)["P"], by_group(found)["Q"]
    assert p == pytest.approx(
        {
            "group": "P",
            "rows": 3,
            "share": 0.6,
            "in_gaps": True,
            "neg_mean_absolute_error": -2 / 3,
            "mean_actual": 2.0,
            "mean_predicted": 8 / 3,
            "rmse": math.sqrt(4 / 3),
            "mae": 2 / 3,
        }
    )
    assert q["rmse"] == pytest.approx(1.0)
    assert q["mae"] == pytest.approx(1.0)
    assert q["mean_predicted"] == pytest.approx(10.0)
    assert "selection_rate" not in p
    assert found["gaps"] == {"score_gap": pytest.approx(1 / 3)}


# --------------------------------------------------------------------------------------------
# Predictions, predict, score


def test_score_replays_stored_answers_on_any_rows_including_repeats() -> None:
    # y = no no yes yes, p(yes) = .1 .6 .7 .2 -> predicted no yes yes no
    predictions = binary(["no", "no", "yes", "yes"], [0.1, 0.6, 0.7, 0.2])
    assert score("accuracy", predictions, np.arange(4)) == pytest.approx(0.5)
    assert score("accuracy", predictions, np.array([0, 0, 2])) == pytest.approx(1.0)
    assert score("accuracy", predictions, np.array([1, 1, 3])) == pytest.approx(0.0)
    assert score("roc_auc", predictions, np.arange(4)) == pytest.approx(0.75)
    expected_log_loss = -np.mean(np.log([0.9, 0.4, 0.7, 0.2]))
    assert score("neg_log_loss", predictions, np.arange(4)) == pytest.approx(-expected_log_loss)


def test_score_is_none_where_the_metric_is_undefined() -> None:
    predictions = binary(["no", "no", "yes", "yes"], [0.1, 0.6, 0.7, 0.2])
    assert score("roc_auc", predictions, np.array([2, 3])) is None
    assert score("roc_auc", predictions, np.array([0, 1, 0])) is None
    regression = Predictions(
        "regression", np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]), None, None
    )
    assert score("r2", regression, np.arange(4)) == pytest.approx(0.2)
    assert score("r2", regression, np.array([0])) is None  # one row: no variance to explain


@pytest.mark.parametrize("classes", [("no", "yes"), (1, 2)], ids=["strings", "ints-1-2"])
def test_score_f1_is_about_the_last_class(classes: tuple[Any, Any]) -> None:
    negative, positive = classes
    # y = neg neg neg pos, predicted neg pos neg pos: for the positive class TP 1, FP 1, FN 0
    predictions = binary([negative, negative, negative, positive], [0.1, 0.6, 0.2, 0.7], classes)
    assert score("f1", predictions, np.arange(4)) == pytest.approx(2 / 3)


class _Stub:
    """A fitted model's answers, fixed in advance."""

    classes_ = np.asarray(["bad", "good"], dtype=object)

    def predict(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(X["x"]) * 2

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        p = np.asarray(X["x"], dtype=float)
        return np.column_stack([1 - p, p])


def test_predict_keeps_probabilities_and_takes_the_likelier_class() -> None:
    X = pd.DataFrame({"x": [0.2, 0.7, 0.9]})
    y = pd.Series(["bad", "bad", "good"], index=[5, 6, 7])
    found = predict(_Stub(), X, y, task="binary")
    assert found.predicted.tolist() == ["bad", "good", "good"]
    assert found.y.tolist() == ["bad", "bad", "good"]
    assert found.classes is not None and found.classes.tolist() == ["bad", "good"]
    assert found.proba is not None and found.proba[:, 1].tolist() == [0.2, 0.7, 0.9]
    assert len(found) == 3


def test_predict_for_regression_has_floats_and_no_probabilities() -> None:
    X = pd.DataFrame({"x": [1, 2]})
    found = predict(_Stub(), X, pd.Series([2, 5]), task="regression")
    assert found.predicted.dtype == float and found.predicted.tolist() == [2.0, 4.0]
    assert found.y.dtype == float and found.y.tolist() == [2.0, 5.0]
    assert found.proba is None and found.classes is None


# --------------------------------------------------------------------------------------------
# metrics_on and Predictions.encoded


def test_metrics_on_puts_the_search_metric_first_with_hand_computed_values() -> None:
    predictions = binary(["no", "no", "yes", "yes"], [0.1, 0.6, 0.7, 0.2])
    found = metrics_on(predictions, metric="roc_auc")
    assert next(iter(found)) == "roc_auc"
    assert found == pytest.approx(
        {
            "roc_auc": 0.75,
            "accuracy": 0.5,
            "balanced_accuracy": 0.5,
            "log_loss": -np.mean(np.log([0.9, 0.4, 0.7, 0.2])),
            "average_precision": 0.5 * 1 + 0.5 * 2 / 3,
            "f1": 0.5,
            "brier": (0.01 + 0.36 + 0.09 + 0.64) / 4,
        }
    )
    subset = metrics_on(predictions, metric="roc_auc", rows=np.array([0, 2]))
    assert subset["roc_auc"] == 1.0
    assert subset["accuracy"] == 1.0
    with pytest.raises(ValueError, match="roc_auc is undefined on these rows"):
        metrics_on(predictions, metric="roc_auc", rows=np.array([2, 3]))


def test_metrics_on_regression() -> None:
    predictions = Predictions(
        "regression", np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]), None, None
    )
    found = metrics_on(predictions, metric="neg_mean_absolute_error")
    assert next(iter(found)) == "neg_mean_absolute_error"
    assert found == pytest.approx(
        {"neg_mean_absolute_error": -0.5, "rmse": 1.0, "mae": 0.5, "r2": 0.2}
    )


def test_encoded_numbers_the_classes_and_keeps_every_metric() -> None:
    predictions = binary(["no", "no", "yes", "yes", "no"], [0.1, 0.6, 0.7, 0.2, 0.45])
    encoded = predictions.encoded()
    assert encoded.y.tolist() == [0, 0, 1, 1, 0]
    assert encoded.predicted.tolist() == [0, 1, 1, 0, 0]
    assert encoded.classes is not None and encoded.classes.tolist() == [0, 1]
    assert encoded.proba is predictions.proba
    for metric in ("roc_auc", "neg_log_loss", "accuracy", "balanced_accuracy"):
        assert metrics_on(encoded, metric=metric) == pytest.approx(
            metrics_on(predictions, metric=metric)
        )


def test_encoded_multiclass_keeps_every_metric() -> None:
    predictions = multiclass(["a", "b", "c", "a", "b", "c"], ["a", "b", "c", "b", "b", "a"])
    encoded = predictions.encoded()
    assert encoded.y.tolist() == [0, 1, 2, 0, 1, 2]
    assert encoded.predicted.tolist() == [0, 1, 2, 1, 1, 0]
    for metric in ("neg_log_loss", "accuracy", "roc_auc_ovr"):
        found = metrics_on(encoded, metric=metric)
        assert found == pytest.approx(metrics_on(predictions, metric=metric))
    assert found["accuracy"] == pytest.approx(4 / 6)


def test_encoded_regression_is_unchanged() -> None:
    predictions = Predictions("regression", np.array([1.0]), np.array([2.0]), None, None)
    assert predictions.encoded() is predictions


# --------------------------------------------------------------------------------------------
# bootstrap_intervals


def demo_like(n: int = 300, seed: int = 7) -> Predictions:
    """A credit-scoring-like test set: 'good' about 70 %, scores that separate imperfectly."""
    rng = np.random.default_rng(seed)
    good = rng.random(n) < 0.7
    signal = good + rng.normal(0, 0.8, n)
    p_good = 1 / (1 + np.exp(-2 * (signal - 0.5)))
    return binary(np.where(good, "good", "bad"), p_good, ("bad", "good"))


def imbalanced() -> Predictions:
    """Ten rows, one positive: about a third of the draws ((9/10)**10) have no positive."""
    return binary(["no"] * 9 + ["yes"], [0.2] * 8 + [0.6, 0.7])


def noisy_regression(n: int = 80) -> Predictions:
    """Regression answers: scoring a draw costs far less than for a classifier."""
    rng = np.random.default_rng(0)
    y = rng.normal(10, 3, n)
    return Predictions("regression", y, y + rng.normal(0, 1, n), None, None)


def test_intervals_surround_the_point_estimates() -> None:
    predictions = demo_like()
    point = metrics_on(predictions, metric="roc_auc")
    intervals = bootstrap_intervals(
        predictions, metric="roc_auc", resamples=100, confidence=0.95, seed=3
    )
    assert set(intervals) == set(point)
    for name, value in point.items():
        found = intervals[name]
        assert found["low"] <= value <= found["high"], name
        assert found["low"] < found["high"], name
        assert found["resamples"] == 100
        assert found["skipped"] == 0
        assert found["confidence"] == 0.95


def test_regression_intervals_surround_the_point_estimates() -> None:
    predictions = noisy_regression()
    point = metrics_on(predictions, metric="neg_root_mean_squared_error")
    intervals = bootstrap_intervals(
        predictions, metric="neg_root_mean_squared_error", resamples=100, confidence=0.9, seed=2
    )
    assert set(intervals) == {"neg_root_mean_squared_error", "rmse", "mae", "r2"}
    for name, value in point.items():
        assert intervals[name]["low"] < value < intervals[name]["high"], name
    # Every metric is scored on the same draws: RMSE's interval mirrors its negation's.
    assert intervals["rmse"]["low"] == pytest.approx(
        -intervals["neg_root_mean_squared_error"]["high"]
    )


def test_a_higher_confidence_gives_wider_intervals() -> None:
    narrow, wide = (
        bootstrap_intervals(noisy_regression(), metric="r2", resamples=100, confidence=c, seed=3)
        for c in (0.5, 0.95)
    )
    for name in narrow:
        assert wide[name]["low"] < narrow[name]["low"] < narrow[name]["high"], name
        assert narrow[name]["high"] < wide[name]["high"], name


def test_the_same_seed_gives_the_same_intervals_whatever_n_jobs() -> None:
    predictions = noisy_regression()
    settings: dict[str, Any] = {"metric": "r2", "resamples": 150, "confidence": 0.95}
    alone = bootstrap_intervals(predictions, seed=11, n_jobs=1, **settings)
    assert bootstrap_intervals(predictions, seed=11, n_jobs=1, **settings) == alone
    assert bootstrap_intervals(predictions, seed=11, n_jobs=2, **settings) == alone
    other = bootstrap_intervals(predictions, seed=12, n_jobs=1, **settings)
    assert all(other[name]["low"] != alone[name]["low"] for name in alone)


@pytest.mark.parametrize(("resamples", "chunks"), [(100, [50, 50]), (120, [50, 50, 20])])
def test_progress_adds_up_to_the_resamples(resamples: int, chunks: list[int]) -> None:
    heard: list[int] = []
    intervals = bootstrap_intervals(
        noisy_regression(), metric="r2", resamples=resamples, confidence=0.95, seed=0,
        on_progress=heard.append,
    )  # fmt: skip
    assert heard == chunks
    assert sum(heard) == resamples
    assert {v["resamples"] for v in intervals.values()} == {resamples}
    assert {v["skipped"] for v in intervals.values()} == {0}


def test_draws_without_an_auc_are_left_out_and_counted() -> None:
    intervals = bootstrap_intervals(
        imbalanced(), metric="roc_auc", resamples=100, confidence=0.9, seed=5
    )
    skipped = {v["skipped"] for v in intervals.values()}
    counted = {v["resamples"] for v in intervals.values()}
    assert len(skipped) == 1 and len(counted) == 1
    (skipped_draws,), (kept_draws,) = skipped, counted
    assert kept_draws + skipped_draws == 100
    # Expected 100 * 0.9**10 ≈ 35 draws without the positive row (standard deviation ≈ 5).
    assert 15 <= skipped_draws <= 55
    for found in intervals.values():
        assert math.isfinite(found["low"]) and math.isfinite(found["high"])
    # The positive row always outranks every negative one, in every draw that has it.
    assert intervals["roc_auc"]["low"] == intervals["roc_auc"]["high"] == 1.0


def test_undefined_auc_draws_do_not_poison_intervals_when_the_metric_is_not_auc() -> None:
    intervals = bootstrap_intervals(
        imbalanced(), metric="accuracy", resamples=100, confidence=0.9, seed=5
    )
    assert "roc_auc" in intervals
    for name, found in intervals.items():
        assert math.isfinite(found["low"]) and math.isfinite(found["high"]), name
