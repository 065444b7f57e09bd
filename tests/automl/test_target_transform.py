"""The regression target as trials fit it: searched, applied inside the pipeline, undone on
predict, and part of what the refit rebuilds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.families import FAMILIES, BuildContext
from automl.portfolio import portfolio
from automl.preprocess import build_pipeline, plan_columns
from automl.target_transform import fit_target_as


def _skewed(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A price-like target: multiplicative in its features, so skewed with a long right tail."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "kind": rng.choice(["x", "y", "z"], size=n)})  # fmt: skip
    y = np.exp(1.5 * X["a"] + 0.8 * X["b"] + (X["kind"] == "z") + rng.normal(0, 0.2, size=n))
    return X, pd.Series(1000 * y, name="price")


@pytest.mark.parametrize("family", ["lightgbm", "random_forest"])
def test_power_target_is_fitted_transformed_and_predicted_on_the_own_scale(family: str) -> None:
    X, y = _skewed()
    plan = plan_columns(X)
    context = BuildContext(task="regression", seed=0, early_stopping=False)
    power = build_pipeline(plan, FAMILIES[family], _params(family) | {"target": "power"}, context)
    power.fit(X.iloc[:400], y.iloc[:400])
    model = power.named_steps["model"]
    assert type(model.transformer_).__name__ == "BoundedPowerTransformer"
    # Yeo-Johnson fitted an exponent that compresses the long tail (a logarithm is 0).
    assert model.transformer_.lambdas_[0] < 0.5
    predicted = power.predict(X.iloc[400:])
    # Answers on the target's own scale, not the transformed one (which is near unit scale).
    assert np.median(predicted) > 100
    relative = np.median(np.abs(predicted - y.iloc[400:]) / y.iloc[400:])
    assert relative < 0.5


def test_answers_mapped_back_stay_within_the_targets_seen() -> None:
    """A model that extrapolates, on the log-like scale, far beyond the training targets does
    not answer with an exponentially larger value: the inverse is bounded."""
    X, y = _skewed(400)
    plan = plan_columns(X)
    context = BuildContext(task="regression", seed=0, early_stopping=False)
    params = _params("linear") | {"target": "power"}
    pipe = build_pipeline(plan, FAMILIES["linear"], params, context)
    pipe.fit(X, y)
    far = pd.DataFrame({"a": [8.0, -8.0], "b": [8.0, -8.0], "kind": ["z", "x"]})
    answers = pipe.predict(far)
    assert answers[0] == pytest.approx(y.max(), rel=1e-6)
    assert answers[1] == pytest.approx(y.min(), rel=1e-6)


def test_only_tree_families_are_offered_the_transform() -> None:
    from automl.families import Space
    from automl.target_transform import target_space

    class Asked:
        def suggest_categorical(self, name: str, choices: list[object]) -> object:
            return choices[-1]

    offered = {
        name: target_space(Space(Asked(), name), "regression", family)
        for name, family in FAMILIES.items()
    }
    trees = {
        "random_forest",
        "extra_trees",
        "hist_gradient_boosting",
        "lightgbm",
        "xgboost",
        "catboost",
    }
    assert {name for name, space in offered.items() if space} == trees
    assert all(offered[name] == {"target": "power"} for name in trees)
    assert target_space(Space(Asked(), "lightgbm"), "binary", FAMILIES["lightgbm"]) == {}


def test_identity_leaves_tree_models_unwrapped_and_scales_for_the_others() -> None:
    X, _ = _skewed(200)
    plan = plan_columns(X)
    context = BuildContext(task="regression", seed=0, early_stopping=False)
    trees = build_pipeline(
        plan, FAMILIES["random_forest"], _params("random_forest") | {"target": "identity"},
        context,
    )  # fmt: skip
    assert type(trees.named_steps["model"]).__name__ == "RandomForestRegressor"
    knn = build_pipeline(plan, FAMILIES["knn"], _params("knn"), context)
    assert type(knn.named_steps["model"].transformer).__name__ == "StandardScaler"


def test_a_target_of_any_sign_is_transformed() -> None:
    X, y = _skewed(300)
    centred = y - y.median()  # half of it negative: a logarithm would fail here
    plan = plan_columns(X)
    context = BuildContext(task="regression", seed=0, early_stopping=False)
    pipe = build_pipeline(
        plan, FAMILIES["lightgbm"], _params("lightgbm") | {"target": "power"}, context
    )
    assert np.isfinite(pipe.fit(X, centred).predict(X)).all()


def test_an_unknown_transform_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown target transform 'log10'"):
        fit_target_as(object(), transform="log10", standardize=False)


def test_portfolio_keeps_the_target_as_proven_for_regression_only() -> None:
    regression = {c["family"]: c for c in portfolio(["lightgbm", "linear"], "regression")}
    assert regression["lightgbm"]["lightgbm.target"] == "identity"
    assert "linear.target" not in regression["linear"]
    assert not any(k.endswith(".target") for c in portfolio(["lightgbm"], "binary") for k in c)


def test_the_search_tries_both_and_the_refit_rebuilds_the_choice(credit: pd.DataFrame) -> None:
    from automl import AutoMLRegressor

    X, y = credit.drop(columns=["Status", "Amount"]), credit["Amount"].astype(float)
    model = AutoMLRegressor(families=["lightgbm"], n_trials=12, time_budget_s=None, cv=3,
                            portfolio=False, ensemble=False, seed=1)  # fmt: skip
    model.fit(X.head(800), y.head(800))
    tried = {r.params["target"] for r in model.search_result_.records}
    assert tried == {"identity", "power"}
    best = model.search_result_.best.params["target"]
    fitted = model.best_estimator_.named_steps["model"]
    if best == "power":
        assert type(fitted.transformer_).__name__ == "BoundedPowerTransformer"
    else:
        assert not hasattr(fitted, "transformer_")
    assert "lightgbm.target" in model.best_params_


def _params(name: str) -> dict[str, object]:
    from automl.families import Space

    class First:
        def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
            return (low + high) // 2

        def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
            return float(np.sqrt(low * high)) if log else (low + high) / 2

        def suggest_categorical(self, name: str, choices: list[object]) -> object:
            return choices[0]

    return FAMILIES[name].search_space(Space(First(), name, early_stopping=False), "regression")


def test_target_transform_false_fits_every_trial_to_the_target_as_it_is(
    credit: pd.DataFrame,
) -> None:
    from automl import AutoMLRegressor

    X, y = credit.drop(columns=["Status", "Amount"]), credit["Amount"].astype(float)
    model = AutoMLRegressor(families=["lightgbm"], n_trials=6, time_budget_s=None, cv=3,
                            portfolio=False, ensemble=False, target_transform=False)  # fmt: skip
    model.fit(X.head(500), y.head(500))
    assert all("target" not in r.params for r in model.search_result_.records)
    assert not hasattr(model.best_estimator_.named_steps["model"], "transformer_")


@pytest.mark.parametrize("target", ["identity", "power"])
def test_a_fold_reports_the_rounds_boosting_kept_whatever_the_target(
    target: str, tmp_path: object
) -> None:
    """The cost model learns from the rounds early stopping kept; a target transform wraps the
    model, and the rounds must still come through."""
    from pathlib import Path

    from automl.isolation import SearchData, TrialJob, run_isolated, write_search_data
    from automl.search_setup import cv_folds

    X, y = _skewed(900)
    target_values = y.to_numpy()
    path = Path(str(tmp_path)) / "data.pkl"
    folds = cv_folds(target_values, task="regression", cv=3, seed=0)
    write_search_data(
        SearchData(X=X, y=target_values, folds=folds, plan=plan_columns(X),
                   scorer="neg_root_mean_squared_error"),
        path,
    )  # fmt: skip
    params = _params("lightgbm") | {"n_estimators": 2000, "learning_rate": 0.3, "target": target}
    context = BuildContext(task="regression", seed=0, early_stopping=True)
    job = TrialJob(data_path=path, family=FAMILIES["lightgbm"], params=params, context=context)
    outcome = run_isolated(job, deadline=None, on_fold=lambda result: True)
    assert outcome.error is None and len(outcome.folds) == 3
    assert all(f.rounds is not None and f.rounds < 2000 for f in outcome.folds)
