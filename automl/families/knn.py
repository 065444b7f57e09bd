"""k-nearest neighbours on scaled features."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space, feature_step_space

# kNN keeps every training row and scans them at predict time.
MAX_ROWS = 20_000


class KNearestNeighbors(Family):
    name = "knn"
    encoding = "onehot"
    scale = True
    max_rows = MAX_ROWS
    max_rows_reason = "it scans every training row at predict time"

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        return {
            "n_neighbors": space.int("n_neighbors", 1, 100, log=True),
            "weights": space.choice("weights", ["uniform", "distance"]),
            "p": space.choice("p", [1, 2]),
        } | feature_step_space(space)

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsRegressor if context.task == "regression" else KNeighborsClassifier
        return cls(**params, n_jobs=context.n_jobs)
