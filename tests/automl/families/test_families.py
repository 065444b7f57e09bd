"""Every registered family builds, fits and predicts on tiny data, for every task it supports."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from automl.exceptions import ConfigError
from automl.families import FAMILIES, BuildContext, Space, get_family
from automl.preprocess import build_pipeline, plan_columns


def tiny(task: str, n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "gaps": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "cat": rng.choice(["a", "b", "c"], size=n).astype(object),
            "flag": rng.random(n) < 0.5,
        }
    )
    X.loc[::7, "cat"] = None
    if task == "regression":
        y = X["num"].to_numpy() * 3 + rng.normal(size=n)
    else:
        k = 2 if task == "binary" else 3
        y = np.arange(n) % k
    return X, y


CASES = [(name, task) for name in FAMILIES for task in ("binary", "multiclass", "regression")]


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_family_fits_and_predicts_on_tiny_data(name: str, task: str) -> None:
    family = FAMILIES[name]
    X, y = tiny(task)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    params = family.search_space(Space(trial, name), task)
    assert all(key.startswith(f"{name}.") for key in trial.params)
    pipeline = build_pipeline(plan_columns(X), family, params, BuildContext(task=task, seed=0))
    pipeline.fit(X, y)
    unseen = X.head(5).assign(cat="never-seen", gaps=np.nan)
    predictions = pipeline.predict(unseen)
    assert len(predictions) == 5
    if task != "regression":
        proba = pipeline.predict_proba(unseen)
        assert proba.shape == (5, len(np.unique(y)))
        assert np.allclose(proba.sum(axis=1), 1.0)
    else:
        assert np.isfinite(predictions).all()


def test_large_data_skips_knn_and_svm_with_a_reason() -> None:
    knn = FAMILIES["knn"].skip_reason(n_rows=50_000, n_features=10, task="binary")
    svm = FAMILIES["svm"].skip_reason(n_rows=50_000, n_features=10, task="binary")
    assert knn is not None and "50000 rows" in knn
    assert svm is not None and "quadratically" in svm
    assert FAMILIES["lightgbm"].skip_reason(n_rows=50_000, n_features=10, task="binary") is None


def test_families_declare_their_needs() -> None:
    assert FAMILIES["linear"].scale and FAMILIES["linear"].encoding == "onehot"
    assert FAMILIES["lightgbm"].encoding == "native"
    assert not FAMILIES["random_forest"].scale


def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown model family 'forest'; known families: linear"):
        get_family("forest")


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "catboost"])
@pytest.mark.parametrize(
    ("early_stopping", "rounds", "rate"), [(True, 3000, 0.005), (False, 1000, 0.01)]
)
def test_boosting_searches_long_slow_fits_only_where_they_stop_early(
    name: str, early_stopping: bool, rounds: int, rate: float
) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    FAMILIES[name].search_space(Space(trial, name, early_stopping=early_stopping), "binary")
    n_estimators = trial.distributions[f"{name}.n_estimators"]
    learning_rate = trial.distributions[f"{name}.learning_rate"]
    assert isinstance(n_estimators, optuna.distributions.IntDistribution)
    assert isinstance(learning_rate, optuna.distributions.FloatDistribution)
    assert (n_estimators.high, learning_rate.low) == (rounds, rate)
