"""Opening studies: the SQLite storage under the search's trial threads."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from automl.study import open_study


def test_threads_never_claim_the_same_enqueued_trial(tmp_path: Path) -> None:
    # SQLite ignores SELECT ... FOR UPDATE: without the storage's lock two threads took the
    # same WAITING trial and the second failed with "Cannot tell a COMPLETE trial".
    study = open_study(
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        study_name="race",
        seed=0,
        pruning=False,
    )
    for value in range(40):
        study.enqueue_trial({"x": float(value)})

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 100.0)
        time.sleep(0.01)
        return x

    study.optimize(objective, n_trials=40, n_jobs=4)

    done = study.get_trials(states=(TrialState.COMPLETE,))
    xs = [t.params["x"] for t in done]
    assert len(xs) == len(set(xs)), "an enqueued trial ran twice"
    assert len(study.get_trials(states=(TrialState.RUNNING,))) == 0
