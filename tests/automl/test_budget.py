"""The search's time budget: a started trial's deadline follows the refit's reserve."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from automl.budget import Budget
from automl.families import BuildContext
from automl.isolation import SearchData, TrialJob, run_isolated, write_search_data
from automl.preprocess import plan_columns
from automl.search_setup import cv_folds
from tests.automl.plugin_families import Sleepy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_started_trials_deadline_moves_earlier_when_the_reserve_grows() -> None:
    clock = FakeClock()
    budget = Budget(time_budget_s=100, trial_limit_s=30, clock=clock)
    clock.now += 50
    deadline = budget.trial_deadline()
    assert deadline() == 1080.0  # its own limit: started at 1050, 30 s
    budget.reserve(40)  # a better trial: its refit needs 40 s of the budget's end at 1100
    assert deadline() == 1060.0
    clock.now += 5
    budget.reserve(10)
    assert deadline() == 1080.0  # the limit stays where the trial started it
    assert Budget(time_budget_s=None, trial_limit_s=None, clock=clock).trial_deadline()() is None


def test_a_running_trial_is_stopped_when_its_deadline_moves_earlier() -> None:
    X = pd.DataFrame({"a": np.arange(60.0)})
    y = np.arange(60) % 2
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "data.pkl"
        folds = cv_folds(y, task="binary", cv=3, seed=0)
        write_search_data(
            SearchData(X=X, y=y, folds=folds, plan=plan_columns(X), scorer="roc_auc",
                       n_classes=2),
            path,
        )  # fmt: skip
        job = TrialJob(data_path=path, family=Sleepy(), params={"knob": 0.5},
                       context=BuildContext(task="binary", seed=0))  # fmt: skip
        limit = [time.monotonic() + 120.0]  # the fit sleeps for a minute
        moved = threading.Timer(1.0, lambda: limit.__setitem__(0, time.monotonic()))
        started = time.monotonic()
        moved.start()
        try:
            outcome = run_isolated(job, deadline=lambda: limit[0], on_fold=lambda _: True)
        finally:
            moved.cancel()
    assert outcome.stopped == "time" and not outcome.folds
    assert time.monotonic() - started < 10
