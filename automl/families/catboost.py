"""CatBoost gradient-boosted oblivious trees, with native categoricals.

CatBoost brings what the other boosting families lack: symmetric trees and ordered target
statistics for categoricals, which err differently from LightGBM's and XGBoost's leaf-wise
trees, and so make better ensemble members than one more near-copy of those (AutoGluon's
ensembles lean on it for that reason). ``n_estimators`` is a ceiling: rounds stop early on a
held-out slice of the training rows (:mod:`automl.families.early_stopping`).

CatBoost reads categoricals from named columns of integers or strings, not from pandas'
``category`` dtype that the native preprocessing produces; ``_CatBoostModel`` hands them over
as integer codes and names them, at fit and predict. A missing value is already a level of its
own (:func:`automl.preprocess.as_text`); a level unseen at fit becomes code -1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space
from automl.families.early_stopping import boosting_ranges, early_stopped


def _codes(X: Any, categorical: list[str]) -> Any:
    if not categorical:
        return X
    frame = X.copy()
    for name in categorical:
        frame[name] = frame[name].cat.codes.astype("int64")
    return frame


class _CatBoostModel(BaseEstimator):  # type: ignore[misc]
    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(
        self,
        X: Any,
        y: Any,
        eval_set: tuple[Any, Any] | None = None,
        early_stopping_rounds: int | None = None,
    ) -> _CatBoostModel:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        self.categorical_ = [
            str(c) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
        ]
        estimator = clone(self.estimator).set_params(cat_features=self.categorical_ or None)
        extra: dict[str, Any] = {}
        if eval_set is not None:
            valid = eval_set[0]
            valid = valid if isinstance(valid, pd.DataFrame) else pd.DataFrame(valid)
            extra = {
                "eval_set": (_codes(valid, self.categorical_), eval_set[1]),
                "early_stopping_rounds": early_stopping_rounds,
                "use_best_model": True,
            }
        estimator.fit(_codes(frame, self.categorical_), y, **extra)
        self.estimator_ = estimator
        # CatBoost predicts on every core unless told otherwise, whatever it was fitted with.
        self.threads_ = int(estimator.get_params().get("thread_count", -1))
        self.best_iteration_ = estimator.get_best_iteration() if eval_set is not None else None
        if isinstance(self, ClassifierMixin):
            self.classes_ = np.asarray(estimator.classes_)
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        return self

    def _frame(self, X: Any) -> Any:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        return _codes(frame, self.categorical_)


class CatBoostModelClassifier(ClassifierMixin, _CatBoostModel):  # type: ignore[misc]
    def predict_proba(self, X: Any) -> Any:
        answers = self.estimator_.predict_proba(self._frame(X), thread_count=self.threads_)
        return np.asarray(answers, dtype=float)

    def predict(self, X: Any) -> Any:
        # CatBoost's own predict answers in a shape that varies with the loss; argmax does not.
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class CatBoostModelRegressor(RegressorMixin, _CatBoostModel):  # type: ignore[misc]
    def predict(self, X: Any) -> Any:
        answers = self.estimator_.predict(self._frame(X), thread_count=self.threads_)
        return np.asarray(answers, dtype=float).reshape(-1)


class CatBoost(Family):
    name = "catboost"
    encoding = "native"
    power_target = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        most_rounds, lowest_rate = boosting_ranges(space.early_stopping)
        params: dict[str, Any] = {
            "n_estimators": space.int("n_estimators", 50, most_rounds, log=True),
            "learning_rate": space.float("learning_rate", lowest_rate, 0.3, log=True),
            # Oblivious trees of depth d have 2**d leaves: past 8 a fit costs many times more
            # for what shallower trees with more rounds reach too.
            "depth": space.int("depth", 3, 8),
            "l2_leaf_reg": space.float("l2_leaf_reg", 0.5, 30.0, log=True),
            "random_strength": space.float("random_strength", 0.1, 10.0, log=True),
        }
        if task != "regression":
            params["class_weight"] = space.choice("class_weight", ["none", "balanced"])
        return params

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from catboost import CatBoostClassifier, CatBoostRegressor

        kwargs: dict[str, Any] = {
            "n_estimators": params["n_estimators"],
            "learning_rate": params["learning_rate"],
            "depth": params["depth"],
            "l2_leaf_reg": params["l2_leaf_reg"],
            "random_strength": params["random_strength"],
            "thread_count": context.n_jobs,
            "random_seed": context.seed,
            "verbose": False,
            # Otherwise CatBoost writes a catboost_info folder of logs into the working folder.
            "allow_writing_files": False,
        }
        if context.task == "regression":
            model: Any = CatBoostModelRegressor(CatBoostRegressor(**kwargs))
        else:
            if params["class_weight"] == "balanced":
                kwargs["auto_class_weights"] = "Balanced"
            model = CatBoostModelClassifier(CatBoostClassifier(**kwargs))
        return early_stopped(model, library="catboost", task=context.task,
                             early_stopping=context.early_stopping, seed=context.seed)  # fmt: skip
