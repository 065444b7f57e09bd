"""A model family whose every trial costs the same CPU time (distributed.py's workload).

HistGradientBoosting with a fixed number of rounds and no early stopping; the one searched
parameter (L2 regularisation) barely changes the cost. An importable module, not part of the
benchmark script, because trial worker processes unpickle the family by its class.
"""

from __future__ import annotations

from typing import Any

from automl.families import FAMILIES, BuildContext, Family, Space, register_family


class FixedCostHGB(Family):
    name = "bench_fixed_cost"
    encoding = "ordinal"

    def search_space(self, space: Space, task: Any) -> dict[str, Any]:
        return {"l2": space.float("l2", 1e-6, 1.0, log=True)}

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=150, early_stopping=False, l2_regularization=params["l2"],
            random_state=context.seed,
        )  # fmt: skip


if FixedCostHGB.name not in FAMILIES:
    register_family(FixedCostHGB())
