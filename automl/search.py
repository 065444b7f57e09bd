"""The Optuna study: one search over model families, under a budget, resumable.

``run_search`` checks the data, opens (or resumes) a study, and runs trials until the time
budget or the trial count is reached. Each trial picks a family and its hyperparameters (TPE,
multivariate and conditional on the family), cross-validates the pipeline in a child process
(:mod:`automl.isolation`) and reports every fold, so bad trials are pruned early. Failures of any
kind are recorded with their reason and the search goes on. Refitting is the caller's job.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial

from automl.budget import Budget
from automl.config import SearchParams
from automl.data.task import Task
from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord
from automl.exceptions import DataError, SearchError
from automl.families import BuildContext, Family, Space, eligible_families
from automl.isolation import (
    POOL,
    FoldResult,
    SearchData,
    TrialJob,
    run_isolated,
    write_search_data,
)
from automl.leaderboard import FINISHED, leaderboard, prefixed, record_of
from automl.metrics import resolve_metric
from automl.preprocess import ColumnPlan, plan_columns
from automl.redact import redact_url
from automl.study import (
    PRUNE_PERCENTILE,
    fail_interrupted_trials,
    open_study,
    quiet_optuna,
)
from automl.validation import check_training_data

logger = logging.getLogger(__name__)


class _TrialFailedError(Exception):
    """Raised inside the objective so that Optuna records the trial as failed."""


@dataclass
class SearchResult:
    """What a finished search knows. ``best`` is the best complete trial."""

    study: optuna.Study
    task: Task
    metric: str
    plan: ColumnPlan
    classes: np.ndarray[Any, Any] | None
    records: list[TrialRecord]
    skipped: dict[str, str]
    best: TrialRecord
    duration_s: float
    stopped_by: str
    new_trials: int = 0

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's parameters as Optuna names them (``family``, ``lightgbm.x``...)."""
        return {"family": self.best.family, **prefixed(self.best.family, self.best.params)}

    def leaderboard(self) -> pd.DataFrame:
        return leaderboard(self.records, self.skipped)


def _folds(y: np.ndarray[Any, Any], *, task: Task, cv: int, seed: int) -> list[Any]:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter: Any = (
        KFold(n_splits=cv, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    )
    return list(splitter.split(np.zeros(len(y)), y))


def _mean(record: TrialRecord) -> float:
    return -np.inf if record.cv_mean is None else record.cv_mean


class _Notifier:
    """Serialises observer calls and tracks the best trial across threads."""

    def __init__(self, observers: Sequence[SearchObserver]) -> None:
        self.observers = list(observers)
        self.lock = threading.Lock()
        self.best: TrialRecord | None = None

    def consider(self, record: TrialRecord) -> None:
        if record.state == "COMPLETE" and (self.best is None or _mean(record) > _mean(self.best)):
            self.best = record

    def trial_done(self, record: TrialRecord) -> None:
        with self.lock:
            self.consider(record)
            for observer in self.observers:
                observer.on_trial_end(record, self.best)


def run_search(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: Task,
    settings: SearchParams,
    cv: int = 5,
    owns_study: bool = True,
    observers: Sequence[SearchObserver] = (),
    positive_class: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """Search for the best pipeline on (X, y); see the module docstring."""
    from automl.labels import encode_classes

    metric = resolve_metric(settings.metric, task, key="metric")
    X, y = check_training_data(X, y, task=task, cv=cv)
    budget = Budget(
        time_budget_s=settings.time_budget_s, trial_limit_s=settings.trial_time_limit_s, clock=clock
    )
    families, skipped = eligible_families(
        settings.families, n_rows=len(X), n_features=X.shape[1], task=task
    )
    plan = plan_columns(X)
    if not plan.columns:
        raise DataError(
            f"none of the {X.shape[1]} columns of X can be used: all of them are entirely missing."
        )
    classes: np.ndarray[Any, Any] | None = None
    if task == "regression":
        target = y.to_numpy(dtype=float)
    else:
        classes, target = encode_classes(y, positive_class=positive_class)
    folds = _folds(target, task=task, cv=cv, seed=settings.seed)
    study = open_study(
        storage=settings.storage,
        study_name=settings.study_name,
        seed=settings.seed,
        pruning=settings.pruning,
    )
    if owns_study:
        interrupted = fail_interrupted_trials(study)
        if interrupted:
            logger.warning("marked %d trials interrupted by an earlier run as failed", interrupted)
    earlier = tuple(record_of(t) for t in study.get_trials(deepcopy=False, states=FINISHED))
    done_before = len(earlier)
    notifier = _Notifier(observers)
    start = SearchStart(
        study_name=study.study_name,
        storage=redact_url(settings.storage),
        task=task,
        metric=metric,
        families=tuple(f.name for f in families),
        skipped=skipped,
        n_rows=len(X),
        n_features=X.shape[1],
        cv=cv,
        time_budget_s=settings.time_budget_s,
        n_trials=settings.n_trials,
        trials_already_done=done_before,
        earlier=earlier,
    )
    for observer in observers:
        observer.on_search_start(start)
    for record in earlier:
        notifier.consider(record)
    if notifier.best is not None:
        budget.reserve_for(notifier.best, cv)

    POOL.warm_up(settings.n_jobs, settings.memory_limit_mb)
    with tempfile.TemporaryDirectory(prefix="automl-search-") as workdir:
        data_path = Path(workdir) / "data.pkl"
        write_search_data(
            SearchData(X=X, y=target, folds=folds, plan=plan, scorer=metric), data_path
        )
        objective = _Objective(
            families={f.name: f for f in families},
            task=task,
            settings=settings,
            data_path=data_path,
            budget=budget,
        )
        stopped_by = _optimize(
            study,
            objective=objective,
            settings=settings,
            budget=budget,
            notifier=notifier,
            done_before=done_before,
            cv=cv,
        )

    records = [record_of(t) for t in study.get_trials(deepcopy=False, states=FINISHED)]
    complete = [r for r in records if r.state == "COMPLETE"]
    end = SearchEnd(
        study_name=study.study_name,
        best=max(complete, key=_mean) if complete else None,
        n_complete=len(complete),
        n_pruned=sum(r.state == "PRUNED" for r in records),
        n_failed=sum(r.state == "FAIL" for r in records),
        duration_s=budget.clock() - budget.start,
        stopped_by=stopped_by,
    )
    for observer in observers:
        observer.on_search_end(end)
    if end.best is None:
        raise SearchError(_no_model_message(records, settings))
    return SearchResult(
        study=study,
        task=task,
        metric=metric,
        plan=plan,
        classes=classes,
        records=records,
        skipped=skipped,
        best=end.best,
        duration_s=end.duration_s,
        stopped_by=stopped_by,
        new_trials=len(records) - done_before,
    )


def _optimize(
    study: optuna.Study,
    *,
    objective: _Objective,
    settings: SearchParams,
    budget: Budget,
    notifier: _Notifier,
    done_before: int,
    cv: int,
) -> str:
    remaining = None if settings.n_trials is None else settings.n_trials - done_before
    if remaining is not None and remaining <= 0:
        return "n_trials reached before this run"
    if budget.search_left() <= 0:
        return "time_budget_s"
    reason = {"value": "n_trials" if remaining is not None else "time_budget_s"}

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        record = record_of(trial)
        notifier.trial_done(record)
        if notifier.best is not None:
            budget.reserve_for(notifier.best, cv)
        if budget.search_left() <= 0.5:
            reason["value"] = "time_budget_s"
            study.stop()

    with quiet_optuna():
        study.optimize(
            objective,
            n_trials=remaining,
            n_jobs=settings.n_jobs,
            catch=(_TrialFailedError,),
            callbacks=[after_trial],
        )
    return reason["value"]


class _Objective:
    def __init__(
        self,
        *,
        families: dict[str, Family],
        task: Task,
        settings: SearchParams,
        data_path: Path,
        budget: Budget,
    ) -> None:
        self.families = families
        self.task = task
        self.settings = settings
        self.data_path = data_path
        self.budget = budget

    def __call__(self, trial: optuna.Trial) -> float:
        name = trial.suggest_categorical("family", list(self.families))
        family = self.families[str(name)]
        params = family.search_space(Space(trial, family.name), self.task)
        trial.set_user_attr("family", family.name)
        deadline = self.budget.trial_deadline()
        if deadline is not None and deadline - self.budget.clock() < 0.5:
            trial.study.stop()
            self._fail(trial, "not started: the time budget ran out")
        job = TrialJob(
            data_path=self.data_path,
            family=family,
            params=params,
            context=BuildContext(task=self.task, seed=self.settings.seed, n_jobs=1),
        )
        scores: list[float] = []

        def on_fold(result: FoldResult) -> bool:
            scores.append(result.score)
            trial.report(float(np.mean(scores)), result.fold)
            return not (self.settings.pruning and trial.should_prune())

        outcome = run_isolated(
            job, deadline=deadline, on_fold=on_fold, memory_limit_mb=self.settings.memory_limit_mb
        )
        trial.set_user_attr("cv_scores", scores)
        trial.set_user_attr("fit_time_s", sum(f.fit_time_s for f in outcome.folds))
        trial.set_user_attr("predict_time_s", sum(f.predict_time_s for f in outcome.folds))
        n_folds = len(outcome.folds)
        if outcome.error is not None:
            self._fail(trial, outcome.error)
        if outcome.stopped == "pruned":
            trial.set_user_attr(
                "reason",
                f"pruned after {n_folds} folds: the running mean was in the bottom "
                f"{PRUNE_PERCENTILE:g}% of trials at that fold",
            )
            raise optuna.TrialPruned
        if outcome.stopped == "time":
            why = f"stopped by the time limit after {n_folds} folds"
            if not scores:
                self._fail(trial, why)
            # Partial folds still tell TPE this region is slow and where its scores stand.
            trial.set_user_attr("reason", why)
            raise optuna.TrialPruned
        return float(np.mean(scores))

    @staticmethod
    def _fail(trial: optuna.Trial, reason: str) -> None:
        trial.set_user_attr("reason", reason)
        raise _TrialFailedError(reason)


def _no_model_message(records: list[TrialRecord], settings: SearchParams) -> str:
    if not records:
        return (
            "no trial finished: the time budget ran out before the first trial could run. "
            f"Raise time_budget_s (now {settings.time_budget_s})."
        )
    reasons: dict[str, int] = {}
    for r in records:
        reasons[r.reason or r.state] = reasons.get(r.reason or r.state, 0) + 1
    common = "; ".join(f"{n} x {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    return (
        f"all {len(records)} trials failed or were stopped, so there is no model. Reasons: "
        f"{common}. Fix the cause above, or raise time_budget_s / trial_time_limit_s if trials "
        "ran out of time."
    )
