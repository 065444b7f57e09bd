"""``AutoMLClassifier`` and ``AutoMLRegressor``: the search as scikit-learn estimators.

Keyword-only parameters, validated in ``fit`` (as scikit-learn does) by the same model that
validates params.yaml's ``search`` section; ``fit`` runs the search and refits the best pipeline
on all rows, all within ``time_budget_s`` (the search keeps back the refit's expected time).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import ValidationError
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from automl.budget import refit_estimate
from automl.config import SearchParams
from automl.config_messages import format_error
from automl.data.task import Task
from automl.ensemble import ENSEMBLE, Ensemble, Member, build_ensemble
from automl.events import SearchObserver
from automl.exceptions import ConfigError, DataError
from automl.families import FAMILIES, BuildContext
from automl.labels import LabeledClassifier
from automl.preprocess import ColumnPlan, build_pipeline
from automl.search import SearchResult, run_search

logger = logging.getLogger(__name__)


def refit_best(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    plan: ColumnPlan,
    family: str,
    params: dict[str, Any],
    task: Task,
    seed: int,
    n_jobs: int,
    classes: Any = None,
    early_stopping: bool = True,
) -> Any:
    """Fit the chosen pipeline on all rows; classifiers answer in the original labels."""
    from threadpoolctl import threadpool_limits

    context = BuildContext(task=task, seed=seed, n_jobs=n_jobs, early_stopping=early_stopping)
    pipeline = build_pipeline(plan, FAMILIES[family], params, context)
    estimator: Any = pipeline if task == "regression" else LabeledClassifier(pipeline, classes)
    with threadpool_limits(n_jobs), warnings.catch_warnings():
        # Convergence and similar warnings were seen (and ignored) in the trials already.
        warnings.simplefilter("ignore")
        return estimator.fit(X, y)


def refit_ensemble(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    plan: ColumnPlan,
    members: Sequence[Member],
    task: Task,
    seed: int,
    n_jobs: int,
    classes: Any = None,
    early_stopping: bool = True,
) -> Any:
    """Fit an ensemble's members on all rows, one after another with ``n_jobs`` threads each,
    as one weighted average.

    Members one at a time, not side by side in threads: on two cores, threads fitting members
    together took twice as long as the same fits in turn (the interpreter lock and OpenMP
    runtimes contend), measured on hpc_jobs."""
    from threadpoolctl import threadpool_limits

    context = BuildContext(task=task, seed=seed, n_jobs=n_jobs, early_stopping=early_stopping)
    pipelines = [
        (f"trial_{m.trial}", build_pipeline(plan, FAMILIES[m.family], m.params, context))
        for m in members
    ]
    voting = build_ensemble(pipelines, [m.weight for m in members], task=task, n_jobs=1)
    estimator: Any = voting if task == "regression" else LabeledClassifier(voting, classes)
    with threadpool_limits(n_jobs), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, y)


def refit_stacked(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    plan: ColumnPlan,
    ensemble: Ensemble,
    task: Task,
    seed: int,
    n_jobs: int,
    classes: Any = None,
    early_stopping: bool = True,
    cv: int = 5,
    input_answers: Sequence[np.ndarray[Any, Any]] | None = None,
) -> Any:
    """Fit an ensemble with a second level (:class:`automl.stacked_model.StackedModel`) on all
    rows; without the search's ``input_answers``, they are computed again on ``cv`` folds."""
    from automl.stacked_model import StackedModel

    stacked = StackedModel(
        plan=plan, inputs=ensemble.inputs, members=ensemble.members, second=ensemble.second,
        task=task, seed=seed, n_jobs=n_jobs, early_stopping=early_stopping, cv=cv,
    )  # fmt: skip
    if task == "regression":
        return stacked.fit(X, y.to_numpy(dtype=float), input_answers=input_answers)
    return LabeledClassifier(stacked, classes).fit(X, y, input_answers=input_answers)


def _expected_refit_s(result: SearchResult, cv: int) -> float:
    if result.ensemble is not None:
        return result.ensemble.refit_s
    return refit_estimate(result.best.fit_time_s, len(result.best.cv_scores), cv)


class _AutoMLBase(BaseEstimator):  # type: ignore[misc]
    _kind: ClassVar[str]

    def __init__(
        self,
        *,
        metric: str | None = None,
        time_budget_s: float | None = 60.0,
        n_trials: int | None = None,
        families: Sequence[str] | None = None,
        cv: int = 5,
        seed: int = 0,
        n_jobs: int = 1,
        storage: str | None = None,
        study_name: str | None = None,
        trial_time_limit_s: float | None = None,
        memory_limit_mb: int | None = None,
        pruning: bool = True,
        pruner: str = "percentile",
        portfolio: bool = True,
        ensemble: bool = True,
        stack: bool = True,
        target_transform: bool = True,
        early_stopping: bool = True,
        show_progress: bool = False,
    ) -> None:
        self.metric = metric
        self.time_budget_s = time_budget_s
        self.n_trials = n_trials
        self.families = families
        self.cv = cv
        self.seed = seed
        self.n_jobs = n_jobs
        self.storage = storage
        self.study_name = study_name
        self.trial_time_limit_s = trial_time_limit_s
        self.memory_limit_mb = memory_limit_mb
        self.pruning = pruning
        self.pruner = pruner
        self.portfolio = portfolio
        self.ensemble = ensemble
        self.stack = stack
        self.target_transform = target_transform
        self.early_stopping = early_stopping
        self.show_progress = show_progress

    def _settings(self) -> SearchParams:
        raw = {
            "metric": "auto" if self.metric is None else self.metric,
            "time_budget_s": self.time_budget_s,
            "n_trials": self.n_trials,
            "families": None if self.families is None else list(self.families),
            "n_jobs": self.n_jobs,
            "seed": self.seed,
            "storage": self.storage,
            "study_name": self.study_name,
            "trial_time_limit_s": self.trial_time_limit_s,
            "memory_limit_mb": self.memory_limit_mb,
            "pruning": self.pruning,
            "pruner": self.pruner,
            "portfolio": self.portfolio,
            "ensemble": self.ensemble,
            "stack": self.stack,
            "target_transform": self.target_transform,
            "early_stopping": self.early_stopping,
        }
        name = type(self).__name__
        if not isinstance(self.cv, int) or isinstance(self.cv, bool) or self.cv < 2:
            raise ConfigError(f"{name}: cv = {self.cv!r}: must be a whole number of at least 2")
        try:
            return SearchParams.model_validate(raw)
        except ValidationError as exc:
            lines = [f"{name}: {format_error(err, SearchParams)}" for err in exc.errors()]
            raise ConfigError("\n".join(lines)) from None

    def _task(self, y: pd.Series) -> Task:
        raise NotImplementedError

    def fit(self, X: Any, y: Any, *, observers: Sequence[SearchObserver] = ()) -> _AutoMLBase:
        """Search, then refit the best pipeline on all of (X, y). Returns self."""
        started = time.monotonic()
        settings = self._settings()
        y_series = pd.Series(np.asarray(y)) if not isinstance(y, pd.Series) else y
        task = self._task(y_series)
        watchers = list(observers)
        if self.show_progress:
            from automl.progress import SearchProgress

            watchers.append(SearchProgress())
        result = run_search(
            X,
            y,
            task=task,
            settings=settings,
            cv=self.cv,
            observers=watchers,
            positive_class=getattr(self, "positive_class", None),
        )
        X_frame, y_clean = _as_frame(X), y_series.reset_index(drop=True)
        refit_started = time.monotonic()
        if result.ensemble is not None and result.ensemble.second:
            self.best_estimator_ = refit_stacked(
                X_frame, y_clean, plan=result.plan, ensemble=result.ensemble, task=task,
                seed=self.seed, n_jobs=self.n_jobs, classes=result.classes,
                early_stopping=result.early_stopping, cv=self.cv,
                input_answers=result.input_answers,
            )  # fmt: skip
            # Predictions about the training rows are not kept with the model.
            result.input_answers = None
        elif result.ensemble is not None:
            self.best_estimator_ = refit_ensemble(
                X_frame, y_clean, plan=result.plan, members=result.ensemble.members, task=task,
                seed=self.seed, n_jobs=self.n_jobs, classes=result.classes,
                early_stopping=result.early_stopping,
            )  # fmt: skip
        else:
            self.best_estimator_ = refit_best(
                X_frame, y_clean, plan=result.plan, family=result.best.family,
                params=result.best.params, task=task, seed=self.seed, n_jobs=self.n_jobs,
                classes=result.classes, early_stopping=result.early_stopping,
            )  # fmt: skip
        self.refit_time_s_ = time.monotonic() - refit_started
        # What the budget kept back for it, beside what it took: the evidence for the refit
        # estimates (automl.budget, automl.stacking).
        logger.info(
            "refit on all rows in %.1f s (%.1f s expected, %.1f s left of the search)",
            self.refit_time_s_, _expected_refit_s(result, self.cv), result.refit_left_s,
        )  # fmt: skip
        self._store(result, X_frame)
        self.fit_time_s_ = time.monotonic() - started
        return self

    def _store(self, result: SearchResult, X: pd.DataFrame) -> None:
        self.search_result_ = result
        self.best_params_ = result.best_params
        self.ensemble_ = result.ensemble
        self.best_family_ = ENSEMBLE if result.ensemble is not None else result.best.family
        self.best_score_ = (
            result.ensemble.cv_mean if result.ensemble is not None else result.best.cv_mean
        )
        self.leaderboard_ = result.leaderboard()
        self.study_ = result.study
        self.metric_ = result.metric
        self.task_ = result.task
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]

    def predict(self, X: Any) -> Any:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(self._check_columns(X))

    def _check_columns(self, X: Any) -> pd.DataFrame:
        frame = _as_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise DataError(
                f"X lacks {len(missing)} columns the model was fitted with: "
                f"{', '.join(map(repr, missing[:10]))}{' ...' if len(missing) > 10 else ''}."
            )
        return frame


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        return frame
    array = np.asarray(X)
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


class AutoMLClassifier(ClassifierMixin, _AutoMLBase):  # type: ignore[misc]
    """Finds and fits the best classification pipeline within a budget.

    ``positive_class`` (binary tasks) is the class metrics such as ``f1`` are about; by default
    the last in sorted order, as in scikit-learn. The default metric is ``roc_auc`` for two
    classes and ``neg_log_loss`` for more.
    """

    _kind = "classification"

    def __init__(
        self,
        *,
        metric: str | None = None,
        time_budget_s: float | None = 60.0,
        n_trials: int | None = None,
        families: Sequence[str] | None = None,
        cv: int = 5,
        seed: int = 0,
        n_jobs: int = 1,
        storage: str | None = None,
        study_name: str | None = None,
        trial_time_limit_s: float | None = None,
        memory_limit_mb: int | None = None,
        pruning: bool = True,
        pruner: str = "percentile",
        portfolio: bool = True,
        ensemble: bool = True,
        stack: bool = True,
        target_transform: bool = True,
        early_stopping: bool = True,
        show_progress: bool = False,
        positive_class: Any = None,
    ) -> None:
        super().__init__(
            metric=metric,
            time_budget_s=time_budget_s,
            n_trials=n_trials,
            families=families,
            cv=cv,
            seed=seed,
            n_jobs=n_jobs,
            storage=storage,
            study_name=study_name,
            trial_time_limit_s=trial_time_limit_s,
            memory_limit_mb=memory_limit_mb,
            pruning=pruning,
            pruner=pruner,
            portfolio=portfolio,
            ensemble=ensemble,
            stack=stack,
            target_transform=target_transform,
            early_stopping=early_stopping,
            show_progress=show_progress,
        )
        self.positive_class = positive_class

    def _task(self, y: pd.Series) -> Task:
        return "binary" if y.dropna().nunique() <= 2 else "multiclass"

    @property
    def classes_(self) -> np.ndarray[Any, Any]:
        check_is_fitted(self, "best_estimator_")
        return np.asarray(self.best_estimator_.classes_)

    def predict_proba(self, X: Any) -> Any:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(self._check_columns(X))


class AutoMLRegressor(RegressorMixin, _AutoMLBase):  # type: ignore[misc]
    """Finds and fits the best regression pipeline within a budget (default metric: RMSE)."""

    _kind = "regression"

    def _task(self, y: pd.Series) -> Task:
        return "regression"
