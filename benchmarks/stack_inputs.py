"""Should a stack's inputs answer for new rows as bags of their fold models? (issue 9)

The second level of a stacked model (automl.stacking) learns from its inputs' out-of-fold
answers, each from a model fitted on four fifths of the rows; for new rows, the model we ship
reads the answers of the inputs refit on all rows, which are more confident than what it
learnt from. AutoGluon answers with the bag of fold models instead. After our search at the
given budget, when it chose a stack, this fits every input again on the search's own folds
and scores, on the test split, the same fitted second level and first-level members reading
the bags' mean answers instead of the refits'. Nothing else differs between the two models.
Runs whose search chose no stack are recorded as such (there is nothing to compare).

    python benchmarks/stack_inputs.py ../shared/bench --datasets hpc_jobs bikeshare \
        --seeds 0 1 --budget 300 --out benchmarks/stack_inputs.json
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_runs import arguments, run_all, run_search
from stacking import score

from automl.families import FAMILIES, BuildContext
from automl.preprocess import build_pipeline
from automl.stacked_model import StackedModel, answers_of


def bag_answers(
    stacked: StackedModel, X: pd.DataFrame, target: np.ndarray[Any, Any], X_test: pd.DataFrame,
    folds: list[Any],
) -> dict[int, np.ndarray[Any, Any]]:  # fmt: skip
    """Each input's mean answer on ``X_test`` over its pipelines fitted on the folds."""
    from threadpoolctl import threadpool_limits

    context = BuildContext(task=stacked.task, seed=stacked.seed, n_jobs=stacked.n_jobs,
                           early_stopping=stacked.early_stopping)  # fmt: skip
    out: dict[int, np.ndarray[Any, Any]] = {}
    for m in stacked.inputs:
        parts = []
        for train, _ in folds:
            pipeline = build_pipeline(stacked.plan, FAMILIES[m.family], m.params, context)
            with threadpool_limits(stacked.n_jobs), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipeline.fit(X.iloc[train], target[train])
            parts.append(answers_of(pipeline, X_test, stacked.task))
        out[m.trial] = np.mean(parts, axis=0)
    return out


def one(data: Any, *, seed: int, budget: float, n_jobs: int) -> dict[str, Any]:
    X, _, X_test, y_test = data.split()
    run = run_search(data, seed=seed, budget=budget, n_jobs=n_jobs)
    model, result = run.model, run.model.search_result_
    row: dict[str, Any] = {"dataset": data.name, "seed": seed, "budget_s": budget,
                           "cv": model.best_score_}  # fmt: skip
    stacked = model.best_estimator_
    stacked = getattr(stacked, "estimator_", stacked)  # inside LabeledClassifier
    if not isinstance(stacked, StackedModel):
        return row | {"stacked": False}
    if data.task == "regression":
        target_test = y_test.to_numpy(dtype=float)
    else:
        code = {label: i for i, label in enumerate(result.classes)}
        target_test = np.asarray([code[v] for v in y_test])
    X = X.reset_index(drop=True)
    started = time.monotonic()
    bags = bag_answers(stacked, X, run.target, X_test.reset_index(drop=True), run.folds)
    bag_s = time.monotonic() - started
    return row | {
        "stacked": True,
        "inputs": [m.family for m in stacked.inputs],
        "refit": score(data.metric, target_test, stacked._blend(X_test)),
        "bag": score(data.metric, target_test, stacked._blend(X_test, bags)),
        "refit_s": model.refit_time_s_,
        "bag_s": round(bag_s, 1),
    }


def main() -> None:
    run_all(arguments(budget=300).parse_args(), one)


if __name__ == "__main__":
    main()
