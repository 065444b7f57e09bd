"""Random forest: bootstrap-aggregated deep trees on random feature subsets."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space


def forest_space(space: Space, task: Task) -> dict[str, Any]:
    """The hyperparameters random forests and extra trees share."""
    params: dict[str, Any] = {
        "n_estimators": space.int("n_estimators", 50, 500, log=True),
        "max_features": space.float("max_features", 0.1, 1.0),
        "min_samples_leaf": space.int("min_samples_leaf", 1, 30, log=True),
    }
    if task != "regression":
        params["class_weight"] = space.choice("class_weight", ["none", "balanced_subsample"])
    return params


def forest_kwargs(params: dict[str, Any], context: BuildContext) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "n_estimators": params["n_estimators"],
        "max_features": params["max_features"],
        "min_samples_leaf": params["min_samples_leaf"],
        "n_jobs": context.n_jobs,
        "random_state": context.seed,
    }
    if context.task != "regression":
        weight = params["class_weight"]
        kwargs["class_weight"] = None if weight == "none" else weight
    return kwargs


class RandomForest(Family):
    name = "random_forest"
    encoding = "ordinal"
    power_target = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        return forest_space(space, task)

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestRegressor if context.task == "regression" else RandomForestClassifier
        return cls(**forest_kwargs(params, context))
