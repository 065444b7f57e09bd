"""The Optuna study: one search over model families, under a budget, resumable.

``run_search`` checks the data, opens (or resumes) a study, and runs trials until the time
budget or the trial count is reached. Each trial picks a family and its hyperparameters (TPE,
multivariate and conditional on the family), cross-validates the pipeline in a child process
(:mod:`automl.isolation`) and reports every fold, so bad trials are pruned early. Failures of any
kind are recorded with their reason and the search goes on. Refitting is the caller's job.
"""

from __future__ import annotations

import functools
import logging
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd

from automl.budget import Budget, refit_estimate
from automl.config import SearchParams
from automl.data.task import Task
from automl.ensemble import Ensemble
from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord
from automl.exceptions import SearchError
from automl.isolation import POOL, SearchData, write_search_data
from automl.leaderboard import FINISHED, leaderboard, prefixed, record_of
from automl.objective import Objective
from automl.oof import ensemble_within_budget
from automl.portfolio import enqueue_portfolio
from automl.preprocess import ColumnPlan
from automl.redact import redact_url
from automl.search_setup import Prepared, prepare
from automl.shared_study import finish_shared, join, open_to_workers, prepare_for_trials
from automl.stacking import StackOutcome, search_stack
from automl.study import Heartbeat, fail_interrupted_trials, open_study
from automl.trials import Notifier, Role, best_mean, optimize

logger = logging.getLogger(__name__)


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
    # With a second level: its inputs' out-of-fold answers, for the refit (memory only).
    input_answers: list[np.ndarray[Any, Any]] | None = field(default=None, repr=False)
    # Seconds of the time budget left for the refit when the search ended (inf without one).
    refit_left_s: float = float("inf")

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's parameters as Optuna names them (``family``, ``lightgbm.x``...)."""
        return {"family": self.best.family, **prefixed(self.best.family, self.best.params)}

    def leaderboard(self) -> pd.DataFrame:
        return leaderboard(self.records, self.skipped, ensemble=self.ensemble)


def run_search(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: Task,
    settings: SearchParams,
    cv: int = 5,
    role: Literal["solo", "coordinator"] = "solo",
    observers: Sequence[SearchObserver] = (),
    positive_class: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sampler_seed: int | None = None,
) -> SearchResult:
    """Search for the best pipeline on (X, y); see the module docstring.

    ``role``: ``solo`` owns its study; ``coordinator`` opens it to ``automl worker`` processes
    (:func:`run_worker_trials`) and picks the model (:mod:`automl.shared_study`).
    ``sampler_seed`` defaults to ``settings.seed``."""
    session = _run_session(
        X, y, task=task, settings=settings, cv=cv, role=role, observers=observers,
        positive_class=positive_class, clock=clock, sampler_seed=sampler_seed,
    )  # fmt: skip
    prep, budget = session.prep, session.budget
    records, best = _finished(session.study)
    ensemble, input_answers = None, None
    if prep.settings.ensemble and best is not None:
        ensemble = ensemble_within_budget(
            session.objective.answers, best_cv=best_mean(best), y=prep.target, folds=prep.folds,
            metric=prep.metric, task=task, n_jobs=prep.settings.n_jobs, budget=budget,
        )  # fmt: skip
        if prep.settings.stack:
            stacked = _second_level(session, best=best, ensemble=ensemble)
            if stacked is not None:
                ensemble, input_answers = stacked.ensemble, stacked.input_answers
    end = _end(session, records, best=best, ensemble=ensemble, observers=observers)
    if best is None:
        raise SearchError(_no_model_message(records, settings))
    return SearchResult(
        study=session.study,
        task=task,
        metric=prep.metric,
        plan=prep.plan,
        classes=prep.classes,
        records=records,
        skipped=prep.skipped,
        best=best,
        duration_s=end.duration_s,
        stopped_by=session.stopped_by,
        new_trials=len(records) - session.done_before,
        ensemble=ensemble,
        early_stopping=prep.settings.early_stopping,
        input_answers=input_answers,
        refit_left_s=budget.left(),
    )


def _second_level(
    session: _Session, *, best: TrialRecord, ensemble: Ensemble | None
) -> StackOutcome | None:
    prep, budget = session.prep, session.budget
    fallback = (
        ensemble.refit_s if ensemble is not None
        else refit_estimate(best.fit_time_s, len(best.cv_scores), prep.cv)
    )  # fmt: skip
    return search_stack(
        session.objective.answers.candidates(), ensemble=ensemble, best_cv=best_mean(best),
        X=prep.X, y=prep.target, folds=prep.folds, plan=prep.plan, metric=prep.metric,
        task=prep.task, seed=prep.settings.seed, n_jobs=prep.settings.n_jobs,
        early_stopping=prep.settings.early_stopping, deadline=budget.end,
        families=[f.name for f in prep.families], fallback_refit_s=fallback,
        costs=session.objective.costs, clock=budget.clock,
    )  # fmt: skip


@dataclass(frozen=True)
class WorkerOutcome:
    study_name: str
    trials_run: int  # by this process
    stopped_by: str


def run_worker_trials(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: Task,
    settings: SearchParams,
    cv: int = 5,
    observers: Sequence[SearchObserver] = (),
    positive_class: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sampler_seed: int | None = None,
) -> WorkerOutcome:
    """Join the open shared study ``settings.study_name`` and run its trials until it is full,
    closed or out of time (:mod:`automl.shared_study`); the coordinator picks the model.
    ``sampler_seed`` defaults to a random one, so workers do not all propose the same startup
    trials. Raises StudyFull when the study is not open to workers."""
    session = _run_session(
        X, y, task=task, settings=settings, cv=cv, role="worker", observers=observers,
        positive_class=positive_class, clock=clock, sampler_seed=sampler_seed,
    )  # fmt: skip
    records, best = _finished(session.study)
    _end(session, records, best=best, ensemble=None, observers=observers)
    return WorkerOutcome(session.study.study_name, session.notifier.seen, session.stopped_by)


@dataclass(frozen=True)
class _Session:
    """One process's part of a search: its trials have run, nothing is chosen yet."""

    prep: Prepared
    study: optuna.Study
    budget: Budget
    notifier: Notifier
    done_before: int
    stopped_by: str
    objective: Objective


def _run_session(
    X: pd.DataFrame, y: pd.Series, *, task: Task, settings: SearchParams, cv: int, role: Role,
    observers: Sequence[SearchObserver], positive_class: Any, clock: Callable[[], float],
    sampler_seed: int | None,
) -> _Session:  # fmt: skip
    prep = prepare(X, y, task=task, settings=settings, cv=cv, role=role,
                    positive_class=positive_class)  # fmt: skip
    budget = Budget(
        time_budget_s=settings.time_budget_s, trial_limit_s=settings.trial_time_limit_s, clock=clock
    )
    study, budget = _open(prep, role=role, sampler_seed=sampler_seed, budget=budget)
    notifier, done_before = _begin(prep, study, budget=budget, observers=observers, role=role)
    # A worker's own earlier trials are not its to count: the quota is the study's.
    done_before = 0 if role == "worker" else done_before
    stopped_by, objective = _run_trials(
        prep, study, budget=budget, notifier=notifier, role=role, done_before=done_before
    )
    return _Session(prep, study, budget, notifier, done_before, stopped_by, objective)


def _finished(study: optuna.Study) -> tuple[list[TrialRecord], TrialRecord | None]:
    """Every finished trial's record, and the best complete one (None if none completed)."""
    records = [record_of(t) for t in study.get_trials(deepcopy=False, states=FINISHED)]
    complete = [r for r in records if r.state == "COMPLETE"]
    return records, max(complete, key=best_mean) if complete else None


def _begin(
    prep: Prepared, study: optuna.Study, *, budget: Budget, observers: Sequence[SearchObserver],
    role: Role,
) -> tuple[Notifier, int]:  # fmt: skip
    """Tell the observers the search starts; a coordinator then opens the study to workers."""
    earlier = tuple(record_of(t) for t in study.get_trials(deepcopy=False, states=FINISHED))
    notifier = Notifier(observers)
    start = SearchStart(
        study_name=study.study_name,
        storage=redact_url(prep.settings.storage),
        task=prep.task,
        metric=prep.metric,
        families=tuple(f.name for f in prep.families),
        skipped=prep.skipped,
        n_rows=len(prep.X),
        n_features=prep.X.shape[1],
        cv=prep.cv,
        time_budget_s=prep.settings.time_budget_s,
        n_trials=prep.settings.n_trials,
        trials_already_done=len(earlier),
        earlier=earlier,
    )
    for observer in observers:
        observer.on_search_start(start)
    for record in earlier:
        notifier.consider(record)
    if notifier.best is not None and role != "worker":
        budget.reserve_for(notifier.best, prep.cv)
    if role == "coordinator":
        shared: dict[str, Any] = {}
        for observer in observers:
            shared.update(observer.shared_attrs())
        trials_for_s = budget.search_left() if budget.end is not None else None
        open_to_workers(study, extra=shared, trials_for_s=trials_for_s)
    return notifier, len(earlier)


def _run_trials(
    prep: Prepared, study: optuna.Study, *, budget: Budget, notifier: Notifier, role: Role,
    done_before: int,
) -> tuple[str, Objective]:  # fmt: skip
    settings = prep.settings
    POOL.warm_up(settings.n_jobs, settings.memory_limit_mb)
    with tempfile.TemporaryDirectory(prefix="automl-search-") as workdir:
        data_path = Path(workdir) / "data.pkl"
        n_classes = 0 if prep.classes is None else len(prep.classes)
        write_search_data(
            SearchData(X=prep.X, y=prep.target, folds=prep.folds, plan=prep.plan,
                       scorer=prep.metric, n_classes=n_classes),
            data_path,
        )  # fmt: skip
        objective = Objective(
            families={f.name: f for f in prep.families},
            task=prep.task,
            settings=settings,
            data_path=data_path,
            budget=budget,
            folds=prep.folds,
            cv=prep.cv,
            y=prep.target,
            metric=prep.metric,
            n_features=len(prep.plan.columns),
        )
        run = functools.partial(
            optimize, study, objective=objective, settings=settings, budget=budget,
            notifier=notifier, cv=prep.cv, role=role,
        )  # fmt: skip
        stopped_by = run(done_before=done_before)
        if role == "coordinator":
            finish_shared(study, budget=budget, run=run)
    return stopped_by, objective


def _end(
    session: _Session, records: list[TrialRecord], *, best: TrialRecord | None,
    ensemble: Ensemble | None, observers: Sequence[SearchObserver],
) -> SearchEnd:  # fmt: skip
    """Tell the observers how the search ended."""
    end = SearchEnd(
        study_name=session.study.study_name,
        best=best,
        n_complete=sum(r.state == "COMPLETE" for r in records),
        n_pruned=sum(r.state == "PRUNED" for r in records),
        n_failed=sum(r.state == "FAIL" for r in records),
        duration_s=session.budget.clock() - session.budget.start,
        stopped_by=session.stopped_by,
        ensemble=ensemble,
    )
    for observer in observers:
        observer.on_search_end(end)
    return end


def _open(
    prep: Prepared, *, role: Role, sampler_seed: int | None, budget: Budget
) -> tuple[optuna.Study, Budget]:
    """The study, ready for this process's trials; a worker's budget is the shared one's."""
    settings = prep.settings
    if sampler_seed is None:
        sampler_seed = secrets.randbits(32) if role == "worker" else settings.seed
    study = open_study(
        storage=settings.storage,
        study_name=settings.study_name,
        seed=sampler_seed,
        pruning=settings.pruning,
        pruner=settings.pruner,
        heartbeat=Heartbeat(
            settings.heartbeat_interval_s, settings.heartbeat_grace_s, settings.max_retry
        ),
    )
    if role == "worker":
        left = join(study)  # StudyFull when it is closed or its time is over
        if left is not None:
            budget = Budget(
                time_budget_s=left, trial_limit_s=budget.trial_limit_s, clock=budget.clock
            )
        return study, budget
    # The study's own quota (a shared study's) is the coordinator's to set; solo, none applies.
    prepare_for_trials(study, n_trials=settings.n_trials if role == "coordinator" else None)
    if role == "solo":
        interrupted = fail_interrupted_trials(study)
        if interrupted:
            logger.warning("marked %d trials interrupted by an earlier run as failed", interrupted)
    if settings.portfolio:
        enqueue_portfolio(study, [f.name for f in prep.families], prep.task)
    return study, budget


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
