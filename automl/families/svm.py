"""Support vector machines with an RBF kernel, on scaled features."""

from __future__ import annotations

from typing import Any

from automl.data.task import Task
from automl.families.base import BuildContext, Family, Space, feature_step_space

# Kernel SVMs cost between quadratic and cubic time in the number of rows.
MAX_ROWS = 10_000


class SupportVectorMachine(Family):
    name = "svm"
    encoding = "onehot"
    scale = True
    max_rows = MAX_ROWS
    max_rows_reason = "kernel SVM training time grows quadratically or worse with the rows"

    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        params = {
            "C": space.float("C", 1e-2, 1e3, log=True),
            "gamma": space.float("gamma", 1e-4, 1.0, log=True),
        }
        if task == "regression":
            params["epsilon"] = space.float("epsilon", 1e-3, 1.0, log=True)
        return params | feature_step_space(space)

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC, SVR

        if context.task == "regression":
            return SVR(C=params["C"], gamma=params["gamma"], epsilon=params["epsilon"])
        # Probabilities (for probability metrics and predict_proba) by Platt scaling on
        # cross-validated decision values, then one SVC refit on all rows.
        return CalibratedClassifierCV(
            SVC(C=params["C"], gamma=params["gamma"], random_state=context.seed),
            method="sigmoid",
            cv=3,
            ensemble=False,
        )
