"""Would a bag of fold models beat the refit on all rows? (evidence for issue 9's next step)

For each dataset and seed: our AutoML at the given budget, then the chosen pipeline (the
ensemble or the best trial) fitted again on each of the search's own CV training folds; the
five fold models' averaged predictions are scored on the test split beside the refit's.

    python benchmarks/bagging.py ../shared/bench --datasets ames_raw hpc_jobs --seeds 0 1 \
        --budget 60 --out benchmarks/bagging.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, load_suite, machine
from peer_systems import test_score

from automl import AutoMLClassifier, AutoMLRegressor
from automl.estimator import refit_best, refit_ensemble
from automl.search_setup import cv_folds, target_of


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
    cls = AutoMLRegressor if data.task == "regression" else AutoMLClassifier
    model = cls(metric=data.metric, time_budget_s=budget, n_jobs=n_jobs, seed=seed)
    model.fit(X, y)
    result = model.search_result_
    _, target = target_of(y, task=data.task, positive_class=None)
    folds = cv_folds(target, task=data.task, cv=model.cv, seed=seed)  # the search's own folds
    common = dict(
        plan=result.plan,
        task=data.task,
        seed=seed,
        n_jobs=n_jobs,
        classes=result.classes,
        early_stopping=result.early_stopping,
    )
    started = time.monotonic()
    fold_models = []
    for train_idx, _ in folds:
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
    parser = argparse.ArgumentParser()
    parser.add_argument("bench", type=Path)
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = []
    for data in load_suite(args.bench, args.datasets):
        for seed in args.seeds:
            row = one(data, seed=seed, budget=args.budget, n_jobs=args.n_jobs)
            print(json.dumps(row), flush=True)
            rows.append(row)
    args.out.write_text(
        json.dumps({"machine": machine(), "commit": git_commit(), "runs": rows}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
