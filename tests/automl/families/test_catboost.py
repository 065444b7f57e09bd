"""The CatBoost family: categoricals reach CatBoost as categoricals, and nothing lands on disk."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.families import FAMILIES, BuildContext
from automl.preprocess import build_pipeline, plan_columns

PARAMS = {
    "n_estimators": 200,
    "learning_rate": 0.1,
    "depth": 4,
    "l2_leaf_reg": 3.0,
    "random_strength": 1.0,
    "class_weight": "none",
}


def _levels_decide(n: int = 600) -> tuple[pd.DataFrame, np.ndarray]:
    """The class is set by a categorical with 12 levels, in no order their names suggest."""
    rng = np.random.default_rng(0)
    level = rng.integers(0, 12, size=n)
    X = pd.DataFrame({
        "level": np.array([f"L{v:02d}" for v in level], dtype=object),
        "noise": rng.normal(size=n),
    })  # fmt: skip
    X.loc[::25, "level"] = None
    y = np.isin(level, [1, 4, 6, 7, 10]).astype(int)
    return X, y


@pytest.mark.parametrize("early_stopping", [True, False])
def test_a_categorical_signal_is_learned_as_a_categorical(
    early_stopping: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    X, y = _levels_decide()
    context = BuildContext(task="binary", seed=0, early_stopping=early_stopping)
    pipeline = build_pipeline(plan_columns(X), FAMILIES["catboost"], PARAMS, context)
    pipeline.fit(X.iloc[:400], y[:400])
    model = pipeline.steps[-1][1]
    inner = model.estimator_ if early_stopping else model
    assert inner.categorical_ == ["level"]
    # Its position in the preprocessed frame (numeric columns come first).
    assert inner.estimator_.get_cat_feature_indices() == [
        list(inner.feature_names_in_).index("level")
    ]
    known = X.iloc[400:]["level"].notna().to_numpy()
    accuracy = (pipeline.predict(X.iloc[400:]) == y[400:])[known].mean()
    assert accuracy > 0.95
    # CatBoost's training logs (catboost_info/) are turned off: no file in the working folder.
    assert list(tmp_path.iterdir()) == []


def test_a_fitted_model_pickles_and_answers_the_same(tmp_path: Path) -> None:
    X, y = _levels_decide()
    target = y + np.random.default_rng(1).normal(scale=0.1, size=len(y))
    pipeline = build_pipeline(
        plan_columns(X), FAMILIES["catboost"],
        {k: v for k, v in PARAMS.items() if k != "class_weight"},
        BuildContext(task="regression", seed=0),
    ).fit(X, target)  # fmt: skip
    again = pickle.loads(pickle.dumps(pipeline))
    unseen = X.head(20).assign(level="never-seen")
    np.testing.assert_array_equal(again.predict(unseen), pipeline.predict(unseen))
    assert np.isfinite(pipeline.predict(unseen)).all()
