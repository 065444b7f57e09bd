"""Would a bag of fold models beat the refit on all rows? (evidence for issue 9's next step)

For each dataset and seed: our AutoML at the given budget, then the chosen pipeline (the
ensemble or the best trial) fitted again on each of the search's own CV training folds; the
five fold models' averaged predictions are scored on the test split beside the refit's.

    python benchmarks/bagging.py ../shared/bench --datasets ames_raw hpc_jobs --seeds 0 1 \
        --budget 60 --out benchmarks/bagging.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_systems import test_score
from search_runs import arguments, run_all, run_search

from automl.estimator import refit_best, refit_ensemble


class Bag:
    """The average of fitted models' predictions (probabilities for classifiers)."""

    def __init__(self, models: list[Any]) -> None:
        self.models = models
        self.classes_ = getattr(models[0], "classes_", None)

    def predict(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.mean([m.predict(X) for m in self.models], axis=0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.mean([m.predict_proba(X) for m in self.models], axis=0)


def one(data: Any, *, seed: int, budget: float, n_jobs: int) -> dict[str, Any]:
    X, y, X_test, y_test = data.split()
    run = run_search(data, seed=seed, budget=budget, n_jobs=n_jobs)
    model, result, common = run.model, run.model.search_result_, run.refit_args
    started = time.monotonic()
    fold_models = []
    for train_idx, _ in run.folds:
        Xf, yf = X.iloc[train_idx], y.iloc[train_idx]
        if result.ensemble is not None:
            fold_models.append(refit_ensemble(Xf, yf, members=result.ensemble.members, **common))
        else:
            fold_models.append(
                refit_best(Xf, yf, family=result.best.family, params=result.best.params, **common)
            )
    bag_s = time.monotonic() - started
    bag = Bag(fold_models)
    both = Bag([*fold_models, model.best_estimator_])
    return {
        "dataset": data.name,
        "seed": seed,
        "budget_s": budget,
        "refit": test_score(data.metric, model, X_test, y_test),
        "bag": test_score(data.metric, bag, X_test, y_test),
        "bag_and_refit": test_score(data.metric, both, X_test, y_test),
        "refit_s": model.refit_time_s_,
        "bag_s": bag_s,
        "chosen": model.best_family_,
    }


def main() -> None:
    run_all(arguments(budget=60).parse_args(), one)


if __name__ == "__main__":
    main()
