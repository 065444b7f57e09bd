"""Multi-layer perceptron on scaled features, with early stopping."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space, feature_step_space


class MultiLayerPerceptron(Family):
    name = "mlp"
    encoding = "onehot"
    scale = True

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        return {
            "layers": space.int("layers", 1, 2),
            "width": space.int("width", 16, 256, log=True),
            "alpha": space.float("alpha", 1e-6, 1e-1, log=True),
            "learning_rate_init": space.float("learning_rate_init", 1e-4, 1e-2, log=True),
        } | feature_step_space(space)

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPRegressor if context.task == "regression" else MLPClassifier
        return cls(
            hidden_layer_sizes=(params["width"],) * params["layers"],
            alpha=params["alpha"],
            learning_rate_init=params["learning_rate_init"],
            early_stopping=True,
            max_iter=300,
            random_state=context.seed,
        )
