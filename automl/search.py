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

from automl.budget import Budget, refit_estimate
from automl.config import SearchParams
from automl.data.task import Task
from automl.ensemble import Ensemble, select_ensemble
from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord
from automl.exceptions import DataError, SearchError
from automl.families import eligible_families
from automl.families.early_stopping import applies as early_stopping_applies
from automl.isolation import (
    POOL,
    SearchData,
    write_search_data,
)
from automl.leaderboard import FINISHED, leaderboard, prefixed, record_of
from automl.metrics import resolve_metric
from automl.objective import Objective, TrialFailedError
from automl.oof import AnswerStore
from automl.portfolio import enqueue_portfolio
from automl.preprocess import ColumnPlan, plan_columns
from automl.redact import redact_url
from automl.study import (
    fail_interrupted_trials,
    open_study,
    quiet_optuna,
)
from automl.validation import check_training_data

logger = logging.getLogger(__name__)


# The most of the time budget kept back for selecting and refitting an ensemble.
ENSEMBLE_SHARE = 0.2


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
    # Set when a weighted average of the best trials beat ``best`` on the same folds.
    ensemble: Ensemble | None = None
    # Whether boosting stopped early in the trials; the refit must do as they did.
    early_stopping: bool = False

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's parameters as Optuna names them (``family``, ``lightgbm.x``...)."""
        return {"family": self.best.family, **prefixed(self.best.family, self.best.params)}

    def leaderboard(self) -> pd.DataFrame:
        return leaderboard(self.records, self.skipped, ensemble=self.ensemble)


def cv_folds(y: np.ndarray[Any, Any], *, task: Task, cv: int, seed: int) -> list[Any]:
    """The search's folds: stratified by class for classifiers, shuffled with ``seed``."""
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
    folds = cv_folds(target, task=task, cv=cv, seed=settings.seed)
    # Decided once from the folds' size, so the trials and the refit fit the same kind of model.
    settings = settings.model_copy(
        update={"early_stopping": settings.early_stopping and early_stopping_applies(len(X), cv)}
    )
    study = open_study(
        storage=settings.storage,
        study_name=settings.study_name,
        seed=settings.seed,
        pruning=settings.pruning,
        pruner=settings.pruner,
    )
    if owns_study:
        interrupted = fail_interrupted_trials(study)
        if interrupted:
            logger.warning("marked %d trials interrupted by an earlier run as failed", interrupted)
    if settings.portfolio:
        enqueue_portfolio(study, [f.name for f in families], task)
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
        n_classes = 0 if classes is None else len(classes)
        write_search_data(
            SearchData(X=X, y=target, folds=folds, plan=plan, scorer=metric, n_classes=n_classes),
            data_path,
        )
        objective = Objective(
            families={f.name: f for f in families},
            task=task,
            settings=settings,
            data_path=data_path,
            budget=budget,
            folds=folds,
            cv=cv,
            y=target,
            metric=metric,
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
    ensemble = None
    if settings.ensemble and complete:
        ensemble = _ensemble(
            objective.answers, best=max(complete, key=_mean), y=target, folds=folds,
            metric=metric, task=task, settings=settings, budget=budget,
        )  # fmt: skip
    end = SearchEnd(
        study_name=study.study_name,
        best=max(complete, key=_mean) if complete else None,
        n_complete=len(complete),
        n_pruned=sum(r.state == "PRUNED" for r in records),
        n_failed=sum(r.state == "FAIL" for r in records),
        duration_s=budget.clock() - budget.start,
        stopped_by=stopped_by,
        ensemble=ensemble,
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
        ensemble=ensemble,
        early_stopping=settings.early_stopping,
    )


def _ensemble(
    answers: AnswerStore,
    *,
    best: TrialRecord,
    y: np.ndarray[Any, Any],
    folds: list[Any],
    metric: str,
    task: Task,
    settings: SearchParams,
    budget: Budget,
) -> Ensemble | None:
    """Ensemble selection within what is left of the budget; None unless it beats ``best``."""
    candidates = answers.candidates()
    if len(candidates) < 2:
        return None
    deadline, refit_limit = None, float("inf")
    left = budget.left()
    if np.isfinite(left):
        selecting = min(answers.selection_s(), 0.5 * max(0.0, left))
        deadline = budget.clock() + selecting
        refit_limit = left - selecting - 0.5
    ensemble = select_ensemble(
        candidates, y=y, folds=folds, metric=metric, task=task, refit_limit_s=refit_limit,
        n_jobs=settings.n_jobs, deadline=deadline, clock=budget.clock,
    )  # fmt: skip
    if ensemble is None or len(ensemble.members) < 2 or ensemble.cv_mean <= _mean(best):
        logger.info("no ensemble: it did not beat the best trial on CV")
        return None
    return ensemble


def _optimize(
    study: optuna.Study,
    *,
    objective: Objective,
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
            best = notifier.best
            keep = refit_estimate(best.fit_time_s, len(best.cv_scores), cv)
            if settings.ensemble and budget.end is not None:
                # Room to select and refit an ensemble, but never most of a short budget.
                cap = max(keep, ENSEMBLE_SHARE * (budget.end - budget.start))
                wanted = objective.answers.expected_refit_s(settings.n_jobs)
                keep = max(keep, min(cap, wanted + objective.answers.selection_s()))
            budget.reserve(keep)
        if budget.search_left() <= 0.5:
            reason["value"] = "time_budget_s"
            study.stop()

    with quiet_optuna():
        study.optimize(
            objective,
            n_trials=remaining,
            n_jobs=settings.n_jobs,
            catch=(TrialFailedError,),
            callbacks=[after_trial],
        )
    return reason["value"]


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
