"""Extremely randomised trees: like a random forest, with random split thresholds."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space
from automl.families.random_forest import forest_kwargs, forest_space


class ExtraTrees(Family):
    name = "extra_trees"
    encoding = "ordinal"
    power_target = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        return forest_space(space, task)

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        cls = ExtraTreesRegressor if context.task == "regression" else ExtraTreesClassifier
        return cls(**forest_kwargs(params, context))
