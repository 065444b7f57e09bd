"""What MLflow tracking adds to the wall time of a search: a 200-trial search on the demo
data with tracking off, with ours (one batched write per trial, in the background), and with
optuna-integration's MLflowCallback (one fluent MLflow run per trial, in the trial's thread).

    python benchmarks/tracking_cost.py --trials 200 --out benchmarks/tracking_cost.json

All three run the same seeded search (n_jobs=1, no time budget, so the same trials) against a
local SQLite tracking database that exists already; the one-off cost of creating that database
is measured separately. Target: ours adds at most 5%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, machine

from automl.config import DataParams, PrepareParams, SearchParams, SplitParams
from automl.data import load_demo, prepare_dataset
from automl.events import SearchObserver, SearchStart, TrialRecord
from automl.search import run_search


class _OptunaCallbackObserver(SearchObserver):
    """Feeds each finished trial to an Optuna callback (here: MLflowCallback) as Optuna would."""

    def __init__(self, callback: Any, storage: str) -> None:
        self.callback = callback
        self.storage = storage
        self.study: Any = None

    def on_search_start(self, start: SearchStart) -> None:
        import optuna

        self.study = optuna.load_study(study_name=start.study_name, storage=self.storage)

    def on_trial_end(self, record: TrialRecord, best: TrialRecord | None) -> None:
        trial = self.study.trials[record.number]
        self.callback(self.study, trial)


def _search(variant: str, trials: int, workdir: Path) -> float:
    os.chdir(workdir)
    frame = load_demo()
    prepared = prepare_dataset(
        frame, data=DataParams(target="Status"), prepare=PrepareParams(), split=SplitParams()
    )
    X = prepared.train.drop(columns="Status")
    y = prepared.train["Status"]
    storage = f"sqlite:///{workdir / f'optuna-{variant}.db'}"
    settings = SearchParams(
        time_budget_s=None, n_trials=trials, n_jobs=1, seed=0, storage=storage,
        study_name=f"cost-{variant}",
    )  # fmt: skip
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    observers: list[SearchObserver] = []
    started = time.monotonic()
    tracker = None
    if variant == "ours":
        from automl.tracking import MlflowSearchTracker

        tracker = MlflowSearchTracker(
            uri=uri, experiment="cost-ours", dataset=prepared.train, target="Status"
        )
        observers.append(tracker)
    elif variant == "mlflow_callback":
        from optuna_integration.mlflow import MLflowCallback

        callback = MLflowCallback(
            tracking_uri=uri, metric_name="cv_mean", mlflow_kwargs={"experiment_name": "cost-cb"}
        )
        observers.append(_OptunaCallbackObserver(callback, storage))
    result = run_search(X, y, task="binary", settings=settings, cv=5, observers=observers)
    if tracker is not None:
        tracker.log_search_artifacts(result.leaderboard(), result.study)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/tracking_cost.json"))
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        from automl.tracking.connection import client

        started = time.monotonic()
        client(f"sqlite:///{workdir / 'mlflow.db'}").search_experiments()
        init_s = time.monotonic() - started
        walls = {v: _search(v, args.trials, workdir) for v in ("off", "ours", "mlflow_callback")}
    result = {
        "machine": machine(),
        "commit": git_commit(),
        "trials": args.trials,
        "mlflow_db_init_s": round(init_s, 2),
        "wall_s": {k: round(v, 2) for k, v in walls.items()},
        "overhead_ours": round(walls["ours"] / walls["off"] - 1, 4),
        "overhead_mlflow_callback": round(walls["mlflow_callback"] / walls["off"] - 1, 4),
    }
    print(json.dumps(result, indent=2))
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
