from __future__ import annotations

import numpy as np
import pandas as pd

from automl.families import FAMILIES, BuildContext
from automl.preprocess import build_pipeline, plan_columns


def test_plan_by_kind_and_cardinality() -> None:
    frame = pd.DataFrame(
        {
            "n": [1.0, 2.0, None, 4.0] * 10,
            "low": ["a", "b"] * 20,
            "high": [f"v{i}" for i in range(40)],
            "when": pd.date_range("2024-01-01", periods=40),
            "empty": [None] * 40,
            "b": [True, False] * 20,
        }
    )
    plan = plan_columns(frame)
    assert plan.numeric == ("n",)
    assert plan.categorical == ("low", "b")
    assert plan.high_cardinality == ("high",)
    assert plan.datetime == ("when",)
    assert plan.ignored == ("empty",)


def test_predict_survives_unseen_categories_and_empty_columns(credit: pd.DataFrame) -> None:
    X, y = credit.drop(columns="Status"), credit["Status"].eq("bad").astype(int)
    X = X.assign(city=[f"c{i % 40}" for i in range(len(X))])
    plan = plan_columns(X)
    new = X.head(20).copy()
    new["Home"] = "castle"
    new["city"] = "atlantis"
    new["Income"] = np.nan
    new["Job"] = None
    for name in ("linear", "lightgbm", "random_forest", "xgboost", "hist_gradient_boosting"):
        family = FAMILIES[name]
        params = _middle_params(name)
        pipeline = build_pipeline(plan, family, params, BuildContext(task="binary", seed=0))
        pipeline.fit(X, y)
        proba = pipeline.predict_proba(new)
        assert np.isfinite(proba).all(), name


def test_feature_selection_and_pca_are_pipeline_steps(credit: pd.DataFrame) -> None:
    X, y = credit.drop(columns="Status"), credit["Status"]
    plan = plan_columns(X)
    params = _middle_params("linear") | {"features": "pca", "features_keep": 0.8}
    pipeline = build_pipeline(plan, FAMILIES["linear"], params, BuildContext(task="binary", seed=0))
    assert type(pipeline.named_steps["features"]).__name__ == "PCA"
    pipeline.fit(X, y)
    params["features"] = "select"
    pipeline = build_pipeline(plan, FAMILIES["linear"], params, BuildContext(task="binary", seed=0))
    assert type(pipeline.named_steps["features"]).__name__ == "SelectPercentile"


def _middle_params(name: str) -> dict[str, object]:
    import optuna

    from automl.families import Space

    class Middle:
        """Answers every suggestion with the middle of its range (or the first choice)."""

        def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
            return (low + high) // 2

        def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
            return float(np.sqrt(low * high)) if log else (low + high) / 2

        def suggest_categorical(self, name: str, choices: list[object]) -> object:
            return choices[0]

    del optuna
    return FAMILIES[name].search_space(Space(Middle(), name), "binary")
