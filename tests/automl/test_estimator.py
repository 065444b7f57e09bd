"""AutoMLClassifier / AutoMLRegressor: scikit-learn conventions, bad input, budgets."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from automl.estimator import AutoMLClassifier, AutoMLRegressor
from automl.exceptions import ConfigError, DataError

FAST = {"families": ["linear", "lightgbm"], "time_budget_s": None, "cv": 3}


@pytest.fixture(scope="module")
def small_credit(credit: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    sample = credit.sample(800, random_state=0).reset_index(drop=True)
    return sample.drop(columns="Status"), sample["Status"]


def test_clone_and_params_round_trip() -> None:
    model = AutoMLClassifier(metric="accuracy", n_trials=5, families=["linear"], seed=3)
    params = model.get_params()
    assert params["metric"] == "accuracy"
    assert params["n_trials"] == 5
    copy = clone(model)
    assert copy.get_params() == params
    copy.set_params(seed=9, time_budget_s=None)
    assert copy.seed == 9
    assert model.seed == 3
    with pytest.raises(TypeError):
        AutoMLClassifier(5)  # type: ignore[misc]


def test_fit_classifier_and_fitted_attributes(small_credit: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = small_credit
    model = AutoMLClassifier(n_trials=6, seed=0, ensemble=False, **FAST)
    assert model.fit(X, y) is model
    assert set(model.classes_) == {"bad", "good"}
    assert model.best_family_ in {"linear", "lightgbm"}
    assert model.best_params_["family"] == model.best_family_
    assert all(k == "family" or k.startswith(f"{model.best_family_}.") for k in model.best_params_)
    board = model.leaderboard_
    assert len(board) == 6
    assert {"family", "params", "cv_mean", "cv_std", "fit_time_s", "state"} <= set(board.columns)
    assert model.best_score_ == pytest.approx(board.loc[board.state == "COMPLETE", "cv_mean"].max())
    assert len(model.study_.trials) == 6
    assert model.metric_ == "roc_auc"
    proba = model.predict_proba(X.head(10))
    assert proba.shape == (10, 2)
    assert set(model.predict(X.head(10))) <= {"bad", "good"}


def test_multiclass_and_regression(credit: pd.DataFrame) -> None:
    sample = credit.sample(600, random_state=1).reset_index(drop=True)
    X = sample.drop(columns=["Home"])
    home = sample["Home"].fillna("other")
    clf = AutoMLClassifier(n_trials=4, seed=0, **FAST).fit(X, home)
    assert clf.metric_ == "neg_log_loss"
    assert clf.predict_proba(X.head(3)).shape == (3, home.nunique())
    reg = AutoMLRegressor(n_trials=4, seed=0, **FAST).fit(
        sample.drop(columns="Amount"), sample["Amount"]
    )
    assert reg.metric_ == "neg_root_mean_squared_error"
    assert np.isfinite(reg.predict(sample.head(5))).all()


def test_same_seed_same_trials(small_credit: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = small_credit

    def run() -> AutoMLClassifier:
        return AutoMLClassifier(n_trials=8, seed=11, n_jobs=1, **FAST).fit(X, y)

    first, second = run(), run()
    assert [t.params for t in first.study_.trials] == [t.params for t in second.study_.trials]
    assert first.best_params_ == second.best_params_
    assert first.best_score_ == second.best_score_
    other = AutoMLClassifier(n_trials=8, seed=12, n_jobs=1, **FAST).fit(X, y)
    assert [t.params for t in other.study_.trials] != [t.params for t in first.study_.trials]


def test_time_budget_is_honoured(small_credit: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = small_credit
    started = time.monotonic()
    model = AutoMLClassifier(time_budget_s=8, n_jobs=2, seed=0).fit(X, y)
    elapsed = time.monotonic() - started
    assert elapsed <= 8 * 1.1, elapsed
    assert model.fit_time_s_ <= 8 * 1.1
    assert (model.leaderboard_.state == "COMPLETE").any()


def test_unseen_categories_and_missing_columns_at_predict(
    small_credit: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = small_credit
    model = AutoMLClassifier(n_trials=3, seed=0, **FAST).fit(X, y)
    new = X.head(8).copy()
    new["Marital"] = "space-married"
    new["Income"] = np.nan
    new["Job"] = None
    assert model.predict_proba(new).shape == (8, 2)
    with pytest.raises(DataError, match="X lacks 1 columns the model was fitted with: 'Age'"):
        model.predict(new.drop(columns="Age"))


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (pd.DataFrame(), [], "X is empty"),
        (pd.DataFrame({"a": range(10)}), [0, 1] * 4, "X has 10 rows but y has 8"),
        (pd.DataFrame({"a": range(10)}), [0, 1, None] + [0, 1] * 3 + [1], "y has 1 missing"),
        (pd.DataFrame({"a": range(10)}), ["x"] * 10, r"y has a single class \('x'\)"),
        (pd.DataFrame({"a": range(10)}), ["x"] * 8 + ["y"] * 2, r"classes 'y' \(2 rows\)"),
    ],
    ids=["empty", "length-mismatch", "nan-in-y", "single-class", "rare-class"],
)
def test_bad_data(X: pd.DataFrame, y: list[object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        AutoMLClassifier(n_trials=1, cv=3).fit(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"families": ["forest"]}, 'families\\[0\\] = "forest": unknown model family'),
        ({"time_budget_s": 0}, "time_budget_s = 0: must be more than 0"),
        ({"time_budget_s": -5.0}, "time_budget_s = -5.0: must be more than 0"),
        ({"time_budget_s": None, "n_trials": None}, "set time_budget_s, n_trials or both"),
        ({"n_trials": 0}, "n_trials = 0: must be at least 1"),
        ({"cv": 1}, "cv = 1: must be a whole number of at least 2"),
        ({"metric": "r2"}, "'r2' is a regression metric, but the task is binary"),
        ({"metric": "acuracy"}, "not a scikit-learn scorer name. Did you mean 'accuracy'"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, object], message: str) -> None:
    X = pd.DataFrame({"a": range(40)})
    y = [0, 1] * 20
    with pytest.raises(ConfigError, match=message) as info:
        AutoMLClassifier(**params).fit(X, y)  # type: ignore[arg-type]
    assert "AutoMLClassifier" in str(info.value) or "metric" in str(info.value)


def test_metric_must_fit_the_task() -> None:
    X = pd.DataFrame({"a": range(60)})
    with pytest.raises(ConfigError, match="'f1' does not work for a multiclass task"):
        AutoMLClassifier(metric="f1", n_trials=1).fit(X, [0, 1, 2] * 20)
    with pytest.raises(ConfigError, match="'accuracy' is a classification metric"):
        AutoMLRegressor(metric="accuracy", n_trials=1).fit(X, np.arange(60.0))
    with pytest.raises(DataError, match="y must be numeric for regression"):
        AutoMLRegressor(n_trials=1).fit(X, ["a", "b"] * 30)


def test_an_ensemble_is_refit_as_the_weighted_average_of_its_members(
    small_credit: tuple[pd.DataFrame, pd.Series],
) -> None:
    from sklearn.ensemble import VotingClassifier

    X, y = small_credit
    model = AutoMLClassifier(
        n_trials=10,
        seed=0,
        families=["linear", "lightgbm", "knn"],
        time_budget_s=None,
        cv=3,
        stack=False,
    ).fit(X, y)
    ensemble = model.ensemble_
    assert ensemble is not None  # seeded: it beats the best single trial on these folds
    assert model.best_family_ == "ensemble"
    assert model.best_score_ == pytest.approx(ensemble.cv_mean)
    assert model.best_score_ > model.search_result_.best.cv_mean
    voting = model.best_estimator_.estimator_
    assert isinstance(voting, VotingClassifier)
    assert voting.weights == pytest.approx([m.weight for m in ensemble.members])
    assert [name for name, _ in voting.estimators] == [f"trial_{m.trial}" for m in ensemble.members]
    head = X.head(20)
    members = [est.predict_proba(head) for est in voting.estimators_]
    expected = np.average(members, axis=0, weights=voting.weights)
    assert model.predict_proba(head) == pytest.approx(expected)
    assert model.leaderboard_.iloc[0]["state"] == "ENSEMBLE"


def test_a_stacked_ensemble_is_refit_as_one_model_that_answers_in_labels(
    small_credit: tuple[pd.DataFrame, pd.Series],
) -> None:
    import pickle

    from automl.stacked_model import StackedModel

    X, y = small_credit
    model = AutoMLClassifier(
        n_trials=10, seed=0, families=["linear", "lightgbm", "knn"], time_budget_s=None, cv=3
    ).fit(X, y)
    ensemble = model.ensemble_
    assert ensemble is not None and ensemble.second  # seeded: the second level wins on CV
    stacked = model.best_estimator_.estimator_
    assert isinstance(stacked, StackedModel)
    assert set(stacked.first_) == {m.trial for m in (*ensemble.inputs, *ensemble.members)}
    assert len(stacked.second_) == len(ensemble.second)
    # The out-of-fold answers it learnt from are not kept with the fitted estimator.
    assert model.search_result_.input_answers is None
    assert b"input_answers" not in pickle.dumps(model.best_estimator_)
    head = X.head(30)
    proba = model.predict_proba(head)
    assert proba == pytest.approx(stacked.predict_proba(head))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(head)) <= set(y)
    assert list(model.classes_) == sorted(set(y))
