"""XGBoost gradient-boosted trees (histogram method, native categoricals).

Classifiers are trained on class indices 0..k-1, which is what XGBoost requires.
``n_estimators`` is a ceiling: rounds stop early on a held-out slice of the training rows
(:mod:`automl.families.early_stopping`), which is what lets the space reach low learning rates.
"""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space
from automl.families.early_stopping import boosting_ranges, early_stopped


class XGBoost(Family):
    name = "xgboost"
    encoding = "native"
    power_target = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        most_rounds, lowest_rate = boosting_ranges(space.early_stopping)
        return {
            "n_estimators": space.int("n_estimators", 50, most_rounds, log=True),
            "learning_rate": space.float("learning_rate", lowest_rate, 0.3, log=True),
            "max_depth": space.int("max_depth", 2, 10),
            "min_child_weight": space.float("min_child_weight", 0.1, 20.0, log=True),
            "subsample": space.float("subsample", 0.5, 1.0),
            "colsample_bytree": space.float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": space.float("reg_lambda", 1e-6, 10.0, log=True),
        }

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from xgboost import XGBClassifier, XGBRegressor

        kwargs = {
            **params,
            "tree_method": "hist",
            "enable_categorical": True,
            "max_cat_to_onehot": 8,
            "n_jobs": context.n_jobs,
            "random_state": context.seed,
            "verbosity": 0,
        }
        model = XGBRegressor(**kwargs) if context.task == "regression" else XGBClassifier(**kwargs)
        return early_stopped(model, library="xgboost", task=context.task,
                             early_stopping=context.early_stopping, seed=context.seed)  # fmt: skip
