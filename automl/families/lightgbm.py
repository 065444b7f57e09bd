"""LightGBM gradient-boosted trees, with native categoricals.

``n_estimators`` is a ceiling: rounds stop early on a held-out slice of the training rows
(:mod:`automl.families.early_stopping`), which is what lets the space reach low learning rates.
"""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space
from automl.families.early_stopping import boosting_ranges, early_stopped


class LightGBM(Family):
    name = "lightgbm"
    encoding = "native"
    power_target = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        most_rounds, lowest_rate = boosting_ranges(space.early_stopping)
        params: dict[str, Any] = {
            "n_estimators": space.int("n_estimators", 50, most_rounds, log=True),
            "learning_rate": space.float("learning_rate", lowest_rate, 0.3, log=True),
            "num_leaves": space.int("num_leaves", 4, 256, log=True),
            "min_child_samples": space.int("min_child_samples", 3, 100, log=True),
            "subsample": space.float("subsample", 0.5, 1.0),
            "colsample_bytree": space.float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": space.float("reg_lambda", 1e-6, 10.0, log=True),
        }
        if task != "regression":
            params["class_weight"] = space.choice("class_weight", ["none", "balanced"])
        return params

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from lightgbm import LGBMClassifier, LGBMRegressor

        kwargs: dict[str, Any] = {
            "n_estimators": params["n_estimators"],
            "learning_rate": params["learning_rate"],
            "num_leaves": params["num_leaves"],
            "min_child_samples": params["min_child_samples"],
            "subsample": params["subsample"],
            "subsample_freq": 1,
            "colsample_bytree": params["colsample_bytree"],
            "reg_lambda": params["reg_lambda"],
            "n_jobs": context.n_jobs,
            "random_state": context.seed,
            "verbose": -1,
        }
        if context.task == "regression":
            model: Any = LGBMRegressor(**kwargs)
        else:
            weight = params["class_weight"]
            model = LGBMClassifier(**kwargs, class_weight=None if weight == "none" else weight)
        return early_stopped(model, library="lightgbm", task=context.task,
                             early_stopping=context.early_stopping, seed=context.seed)  # fmt: skip
