"""scikit-learn's histogram gradient boosting, with native categoricals and early stopping."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space


class HistGradientBoosting(Family):
    name = "hist_gradient_boosting"
    encoding = "native"
    power_target = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": space.float("learning_rate", 0.01, 0.3, log=True),
            "max_leaf_nodes": space.int("max_leaf_nodes", 8, 128, log=True),
            "min_samples_leaf": space.int("min_samples_leaf", 5, 100, log=True),
            "l2_regularization": space.float("l2_regularization", 1e-6, 10.0, log=True),
            "max_features": space.float("max_features", 0.3, 1.0),
        }
        if task != "regression":
            params["class_weight"] = space.choice("class_weight", ["none", "balanced"])
        return params

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        kwargs: dict[str, Any] = {
            "learning_rate": params["learning_rate"],
            "max_leaf_nodes": params["max_leaf_nodes"],
            "min_samples_leaf": params["min_samples_leaf"],
            "l2_regularization": params["l2_regularization"],
            "max_features": params["max_features"],
            # Early stopping on a held-out tenth picks the number of trees per trial.
            "max_iter": 1000,
            "early_stopping": True,
            "n_iter_no_change": 20,
            "categorical_features": "from_dtype",
            "random_state": context.seed,
        }
        if context.task == "regression":
            return HistGradientBoostingRegressor(**kwargs)
        weight = params["class_weight"]
        return HistGradientBoostingClassifier(
            **kwargs, class_weight=None if weight == "none" else weight
        )
