"""Linear and logistic regression with L1/L2 (elastic-net) regularisation."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space, feature_step_space


class Linear(Family):
    name = "linear"
    encoding = "onehot"
    scale = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        params: dict[str, Any] = {
            "regularization": space.float("regularization", 1e-4, 1e3, log=True),
            "l1_ratio": space.float("l1_ratio", 0.0, 1.0),
        }
        if task != "regression":
            params["class_weight"] = space.choice("class_weight", ["none", "balanced"])
        return params | feature_step_space(space)

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        strength = params["regularization"]
        if context.task == "regression":
            from sklearn.linear_model import ElasticNet

            return ElasticNet(
                alpha=strength, l1_ratio=params["l1_ratio"], max_iter=5000,
                random_state=context.seed,
            )  # fmt: skip
        from sklearn.linear_model import LogisticRegression

        # saga handles any l1_ratio; C is the inverse of the regularisation strength.
        return LogisticRegression(
            C=1.0 / strength,
            l1_ratio=params["l1_ratio"],
            solver="saga",
            max_iter=500,
            class_weight=None if params["class_weight"] == "none" else "balanced",
            random_state=context.seed,
        )
