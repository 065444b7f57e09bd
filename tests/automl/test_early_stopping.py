"""Early stopping of the boosting families on a held-out slice of their training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor

from automl.families import FAMILIES, BuildContext
from automl.families.early_stopping import MIN_ROWS, EarlyStoppedClassifier, applies

PARAMS = {
    "n_estimators": 2000,
    "learning_rate": 0.3,
    "num_leaves": 15,
    "max_depth": 4,
    "min_child_samples": 10,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 1e-3,
    "class_weight": "none",
    "depth": 4,
    "l2_leaf_reg": 1e-3,
    "random_strength": 1.0,
}


def _data(task: str, n_rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n_rows, 5)), columns=[f"x{i}" for i in range(5)])
    signal = X["x0"] + 0.5 * X["x1"] + rng.normal(scale=1.0, size=n_rows)
    if task == "regression":
        return X, signal.to_numpy()
    if task == "binary":
        return X, (signal > 0).astype(int).to_numpy()
    return X, np.digitize(signal, [-0.7, 0.7])


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_noisy_data_stops_far_below_the_ceiling(family: str, task: str) -> None:
    X, y = _data(task, 3000)
    space_params = {k: v for k, v in PARAMS.items() if k in _keys(family)}
    if task == "regression":
        space_params.pop("class_weight", None)
    model = FAMILIES[family].build(space_params, BuildContext(task=task, seed=0))  # type: ignore[arg-type]
    assert is_regressor(model) if task == "regression" else is_classifier(model)
    model.fit(X, y)
    # A high learning rate on noisy data overfits within a few dozen rounds, not 2000.
    assert model.rounds_ is not None and model.rounds_ < 500
    if task != "regression":
        assert list(model.classes_) == sorted(set(y))
        proba = model.predict_proba(X)
        assert proba.shape == (len(X), len(set(y)))
        assert np.allclose(proba.sum(axis=1), 1.0)
    assert model.predict(X).shape == (len(X),)
    # Clones (as VotingClassifier and the refit make them) keep the configuration.
    assert clone(model).get_params()["library"] == family


def test_small_data_is_decided_once_for_the_folds_and_the_refit() -> None:
    # 1,100 rows in 5 folds: training folds of 880 rows hold out no slice, so neither does
    # the refit on all 1,100 (it must fit the kind of model the trials scored).
    assert not applies(1100, 5)
    assert not applies(MIN_ROWS * 5 // 4 - 2, 5)
    assert applies(MIN_ROWS * 5 // 4 + 1, 5)
    X, y = _data("binary", 1100)
    model = FAMILIES["lightgbm"].build(
        {k: v for k, v in PARAMS.items() if k in _keys("lightgbm")} | {"n_estimators": 60},
        BuildContext(task="binary", seed=0, early_stopping=False),
    )
    model.fit(X, y)
    assert not hasattr(model, "rounds_")
    assert model.booster_.num_trees() == 60


def test_a_class_with_one_row_is_fitted_without_a_slice() -> None:
    X, y = _data("binary", 2000)
    y = y.copy()
    y[0] = 2  # one row of a third class cannot be on both sides of a stratified split
    model = EarlyStoppedClassifier(
        FAMILIES["lightgbm"]
        .build(
            {k: v for k, v in PARAMS.items() if k in _keys("lightgbm")} | {"n_estimators": 30},
            BuildContext(task="multiclass", seed=0),
        )
        .estimator,
        library="lightgbm",
    )
    model.fit(X, y)
    assert model.rounds_ is None and list(model.classes_) == [0, 1, 2]


def _keys(family: str) -> set[str]:
    if family == "lightgbm":
        return {"n_estimators", "learning_rate", "num_leaves", "min_child_samples", "subsample",
                "colsample_bytree", "reg_lambda", "class_weight"}  # fmt: skip
    if family == "catboost":
        return {"n_estimators", "learning_rate", "depth", "l2_leaf_reg", "random_strength",
                "class_weight"}  # fmt: skip
    return {"n_estimators", "learning_rate", "max_depth", "min_child_weight", "subsample",
            "colsample_bytree", "reg_lambda"}  # fmt: skip
