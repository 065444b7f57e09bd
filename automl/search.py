"""The Optuna study: one search over model families, under a budget, resumable.

``run_search`` checks the data, opens (or resumes) a study, and runs trials until the time
budget or the trial count is reached. Each trial picks a family and its hyperparameters (TPE,
multivariate and conditional on the family), cross-validates the pipeline in a child process
(:mod:`automl.isolation`) and reports every fold, so bad trials are pruned early. Failures of any
kind are recorded with their reason and the search goes on. Refitting is the caller's job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from automl.config import SearchParams
from automl.data.task import Task
from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord
from automl.exceptions import AutoMLError, DataError
from automl.families import FAMILIES, BuildContext, Family, Space
from automl.isolation import (
    POOL,
    FoldResult,
    SearchData,
    TrialJob,
    run_isolated,
    write_search_data,
)
from automl.metrics import resolve_metric
from automl.preprocess import ColumnPlan, plan_columns
from automl.redact import redact_url

logger = logging.getLogger(__name__)

# Share of the time budget one trial may use when no per-trial limit is set.
DEFAULT_TRIAL_SHARE = 0.25
# Trials whose running mean falls in the bottom quarter at the same fold are pruned
# (Optuna's PercentilePruner takes the share of trials to keep).
PRUNE_PERCENTILE = 25.0
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class SearchError(AutoMLError):
    """The search could not produce a model (every trial failed, or none could run)."""


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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's parameters as Optuna names them (``family``, ``lightgbm.x``...)."""
        return {"family": self.best.family, **_prefixed(self.best.family, self.best.params)}

    def leaderboard(self) -> pd.DataFrame:
        return leaderboard(self.records, self.skipped)


def _prefixed(family: str, params: dict[str, Any]) -> dict[str, Any]:
    return {f"{family}.{k}": v for k, v in params.items()}


def leaderboard(records: Iterable[TrialRecord], skipped: dict[str, str]) -> pd.DataFrame:
    """One row per trial, best first; families left out for the data appear as SKIPPED."""
    rows = [
        {
            "trial": r.number,
            "family": r.family,
            "state": r.state,
            "cv_mean": r.cv_mean,
            "cv_std": r.cv_std,
            "cv_scores": json.dumps([round(s, 6) for s in r.cv_scores]),
            "fit_time_s": round(r.fit_time_s, 4),
            "predict_time_s": round(r.predict_time_s, 4),
            "duration_s": round(r.duration_s, 4),
            "reason": r.reason or "",
            "params": json.dumps(r.params, sort_keys=True, default=str),
        }
        for r in records
    ]
    rows += [
        {"trial": None, "family": name, "state": "SKIPPED", "reason": why, "params": "{}"}
        for name, why in skipped.items()
    ]
    columns = ["trial", "family", "state", "cv_mean", "cv_std", "cv_scores", "fit_time_s",
               "predict_time_s", "duration_s", "reason", "params"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    order = {"COMPLETE": 0, "PRUNED": 1, "FAIL": 2, "SKIPPED": 3}
    frame["_order"] = frame["state"].map(order)
    frame = frame.sort_values(["_order", "cv_mean", "trial"], ascending=[True, False, True])
    frame = frame.drop(columns="_order").reset_index(drop=True)
    frame["trial"] = frame["trial"].astype("Int64")
    return frame


def record_of(trial: FrozenTrial) -> TrialRecord:
    """A finished Optuna trial as a leaderboard row."""
    attrs = trial.user_attrs
    family = str(trial.params.get("family", attrs.get("family", "?")))
    prefix = f"{family}."
    params = {k[len(prefix) :]: v for k, v in trial.params.items() if k.startswith(prefix)}
    scores = tuple(float(s) for s in attrs.get("cv_scores", []))
    complete = trial.state == TrialState.COMPLETE
    duration = trial.duration.total_seconds() if trial.duration is not None else 0.0
    return TrialRecord(
        number=trial.number,
        family=family,
        params=params,
        state=trial.state.name,
        cv_mean=float(np.mean(scores)) if scores else None,
        cv_std=float(np.std(scores)) if scores else None,
        cv_scores=scores,
        fit_time_s=float(attrs.get("fit_time_s", 0.0)),
        predict_time_s=float(attrs.get("predict_time_s", 0.0)),
        duration_s=duration,
        reason=None if complete else attrs.get("reason", "no reason recorded"),
    )


# --------------------------------------------------------------------------------------------
# input checks


def check_training_data(X: Any, y: Any, *, task: Task, cv: int) -> tuple[pd.DataFrame, pd.Series]:
    """Refuse data no search can use, with a message that says what to change."""
    if not isinstance(X, pd.DataFrame):
        array = np.asarray(X)
        if array.ndim != 2:
            raise DataError(f"X must be a 2-D table; got an array with shape {array.shape}.")
        X = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    y = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y).reset_index(drop=True)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"X is empty ({X.shape[0]} rows, {X.shape[1]} columns): nothing to learn.")
    if len(X) != len(y):
        raise DataError(f"X has {len(X)} rows but y has {len(y)}; they must be the same length.")
    missing = y.isna().to_numpy()
    if missing.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(missing)[:5])
        raise DataError(
            f"y has {int(missing.sum())} missing values (first at rows {rows}); drop those rows "
            "or fill them before fitting."
        )
    X = X.reset_index(drop=True)
    X.columns = [str(c) for c in X.columns]
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
            raise DataError(f"y must be numeric for regression; its dtype is {y.dtype}.")
        if len(y) < cv:
            raise DataError(f"{len(y)} rows are fewer than cv = {cv} folds.")
        return X, y.astype(float)
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"y has a single class ({counts.index[0]!r}); a classifier needs at least two."
        )
    short = counts[counts < cv]
    if len(short):
        listed = ", ".join(f"{k!r} ({v} rows)" for k, v in short.items())
        raise DataError(
            f"classes {listed} have fewer rows than cv = {cv} folds; collect more rows, merge "
            "rare classes, or lower cv."
        )
    return X, y


def eligible_families(
    names: Sequence[str] | None, *, n_rows: int, n_features: int, task: Task
) -> tuple[list[Family], dict[str, str]]:
    """The families to search and, for the others, why they were left out."""
    chosen = [FAMILIES[n] for n in (names or list(FAMILIES))]
    usable, skipped = [], {}
    for family in chosen:
        reason = family.skip_reason(n_rows=n_rows, n_features=n_features, task=task)
        if reason is None:
            usable.append(family)
        else:
            skipped[family.name] = reason
    if not usable:
        raise SearchError(
            "no model family fits this data: " + "; ".join(skipped.values()) + ". Add other "
            "families to the search."
        )
    return usable, skipped


def _folds(y: np.ndarray[Any, Any], *, task: Task, cv: int, seed: int) -> list[Any]:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter: Any = (
        KFold(n_splits=cv, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    )
    return list(splitter.split(np.zeros(len(y)), y))


# --------------------------------------------------------------------------------------------
# budget


class Budget:
    """Wall-clock budget of a search, keeping back time for the final refit."""

    def __init__(
        self,
        *,
        time_budget_s: float | None,
        trial_limit_s: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.start = clock()
        self.end = None if time_budget_s is None else self.start + time_budget_s
        if trial_limit_s is None and time_budget_s is not None:
            trial_limit_s = max(5.0, DEFAULT_TRIAL_SHARE * time_budget_s)
        self.trial_limit_s = trial_limit_s
        self.refit_reserve_s = 0.0

    def search_left(self) -> float:
        """Seconds left for trials (infinite without a time budget)."""
        if self.end is None:
            return float("inf")
        return self.end - self.refit_reserve_s - self.clock()

    def trial_deadline(self) -> float | None:
        candidates = []
        if self.end is not None:
            candidates.append(self.end - self.refit_reserve_s)
        if self.trial_limit_s is not None:
            candidates.append(self.clock() + self.trial_limit_s)
        return min(candidates) if candidates else None

    def reserve_for(self, record: TrialRecord, cv: int) -> None:
        """Keep back what refitting ``record``'s pipeline on all rows should take."""
        per_fold = record.fit_time_s / max(1, len(record.cv_scores))
        # The refit sees cv/(cv-1) times the rows of a fold's fit; fits are about linear here.
        self.refit_reserve_s = 1.2 * per_fold * cv / max(1, cv - 1) + 0.5


# --------------------------------------------------------------------------------------------
# the study


def open_study(
    *, storage: str | None, study_name: str | None, seed: int, pruning: bool
) -> optuna.Study:
    """Create the study, or load it when one of that name exists in ``storage``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # group=True splits the space by family, so TPE models each family's own parameters.
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=10
        )
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.PercentilePruner(
            100.0 - PRUNE_PERCENTILE, n_startup_trials=5, n_warmup_steps=0
        )
        if pruning
        else optuna.pruners.NopPruner()
    )
    with _quiet_optuna():
        try:
            return optuna.create_study(
                storage=_storage(storage),
                study_name=study_name,
                sampler=sampler,
                pruner=pruner,
                direction="maximize",
                load_if_exists=True,
            )
        except (ValueError, ImportError, optuna.exceptions.StorageInternalError) as exc:
            raise SearchError(
                f"cannot open the Optuna study in storage {redact_url(storage)}: "
                f"{str(exc).splitlines()[0]}"
            ) from None


def _storage(url: str | None) -> Any:
    if url is None:
        return None
    if url.endswith((".log", ".journal")) and "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith(("postgresql", "mysql")):
        # Heartbeats let other workers take over trials of a worker that died.
        return optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=60)
    return url


def fail_interrupted_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a process that died as failed; return how many.

    Only for a study this process owns: a shared study's running trials belong to live workers.
    """
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(
            trial._trial_id, "reason", "interrupted: the process running it stopped"
        )
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        count += 1
    return count


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    previous = optuna.logging.get_verbosity()
    # Failed trials are recorded with their reason; Optuna's per-trial warnings are noise here.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


class _Notifier:
    """Serialises observer calls and tracks the best trial across threads."""

    def __init__(self, observers: Sequence[SearchObserver]) -> None:
        self.observers = list(observers)
        self.lock = threading.Lock()
        self.best: TrialRecord | None = None

    def trial_done(self, record: TrialRecord) -> None:
        with self.lock:
            if record.state == "COMPLETE" and (
                self.best is None or (record.cv_mean or -np.inf) > (self.best.cv_mean or -np.inf)
            ):
                self.best = record
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
    done_before = len(study.get_trials(deepcopy=False, states=_FINISHED))
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
    )
    for observer in observers:
        observer.on_search_start(start)
    for earlier in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        record = record_of(earlier)
        if notifier.best is None or (record.cv_mean or -np.inf) > (
            notifier.best.cv_mean or -np.inf
        ):
            notifier.best = record
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

    records = [record_of(t) for t in study.get_trials(deepcopy=False, states=_FINISHED)]
    complete = [r for r in records if r.state == "COMPLETE"]
    end = SearchEnd(
        study_name=study.study_name,
        best=max(complete, key=lambda r: r.cv_mean or -np.inf) if complete else None,
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

    with _quiet_optuna():
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
