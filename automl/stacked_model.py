"""The two levels of a stacked ensemble as one scikit-learn estimator, and the format of the
columns the second level reads (the first level's answers beside the raw columns).

:mod:`automl.stacking` decides whether a stack is worth it; this module only fits and answers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from automl.data.task import Task
from automl.ensemble import Member
from automl.families import FAMILIES, BuildContext
from automl.preprocess import ColumnPlan, build_pipeline

COLUMN_PREFIX = "__level1_"
_EPS = 1e-6


def answer_columns(answers: Sequence[np.ndarray[Any, Any]], task: Task) -> np.ndarray[Any, Any]:
    """The first level's answers as columns: values for regression, the log-odds of the
    positive class for binary tasks, log-probabilities of every class otherwise."""
    if task == "regression":
        return np.column_stack([np.asarray(a, dtype=float) for a in answers])
    if task == "binary":
        return np.column_stack([
            np.log(np.clip(a[:, 1], _EPS, 1 - _EPS)) - np.log(np.clip(a[:, 0], _EPS, 1 - _EPS))
            for a in answers
        ])  # fmt: skip
    return np.column_stack([np.log(np.clip(a, _EPS, 1.0)) for a in answers])


def widen(X: pd.DataFrame, columns: np.ndarray[Any, Any]) -> pd.DataFrame:
    extra = pd.DataFrame(columns, columns=[f"{COLUMN_PREFIX}{i}" for i in range(columns.shape[1])])
    return pd.concat([X.reset_index(drop=True), extra], axis=1)


def widened_plan(plan: ColumnPlan, n_columns: int) -> ColumnPlan:
    extra = tuple(f"{COLUMN_PREFIX}{i}" for i in range(n_columns))
    return ColumnPlan(
        numeric=plan.numeric + extra, categorical=plan.categorical,
        high_cardinality=plan.high_cardinality, datetime=plan.datetime, ignored=plan.ignored,
    )  # fmt: skip


def out_of_fold(
    pipeline: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], *,
    folds: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]], task: Task, n_jobs: int,
    stop: float | None = None, clock: Callable[[], float] = time.monotonic,
) -> np.ndarray[Any, Any] | None:  # fmt: skip
    """``pipeline``'s out-of-fold answers on every row; None when ``stop`` comes first."""
    from threadpoolctl import threadpool_limits

    out: np.ndarray[Any, Any] | None = None
    for train, valid in folds:
        if stop is not None and clock() > stop:
            return None
        with threadpool_limits(n_jobs), warnings.catch_warnings():
            # Convergence and similar warnings were seen (and ignored) in the trials already.
            warnings.simplefilter("ignore")
            fitted = clone(pipeline).fit(X.iloc[train], y[train])
            part = answers_of(fitted, X.iloc[valid], task)
        if out is None:
            out = np.zeros((len(X), *part.shape[1:]), dtype=float)
        out[valid] = part
    return out


def answers_of(model: Any, X: pd.DataFrame, task: Task) -> np.ndarray[Any, Any]:
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    return np.asarray(model.predict_proba(X), dtype=float)


class StackedModel(BaseEstimator):  # type: ignore[misc]
    """Two levels as one estimator: ``inputs`` answer first, ``second`` reads their answers
    beside the raw columns, and the answer is the weighted average of ``members`` (first
    level), ``second`` and their weights. Classifiers answer in class indices 0..k-1 (wrap in
    :class:`automl.labels.LabeledClassifier` for labels).

    ``fit`` takes the inputs' out-of-fold answers from the search (``input_answers``), or
    computes them on ``cv`` folds shuffled with ``seed``, as the search's were."""

    def __init__(
        self, *, plan: ColumnPlan, inputs: Sequence[Member], members: Sequence[Member],
        second: Sequence[Member], task: Task, seed: int = 0, n_jobs: int = 1,
        early_stopping: bool = True, cv: int = 5,
    ) -> None:  # fmt: skip
        self.plan = plan
        self.inputs = inputs
        self.members = members
        self.second = second
        self.task = task
        self.seed = seed
        self.n_jobs = n_jobs
        self.early_stopping = early_stopping
        self.cv = cv

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        input_answers: Sequence[np.ndarray[Any, Any]] | None = None,
    ) -> StackedModel:
        from threadpoolctl import threadpool_limits

        target = np.asarray(y)
        context = BuildContext(task=self.task, seed=self.seed, n_jobs=self.n_jobs,
                               early_stopping=self.early_stopping)  # fmt: skip
        first = {m.trial: m for m in (*self.inputs, *self.members)}
        pipelines = {
            trial: build_pipeline(self.plan, FAMILIES[m.family], m.params, context)
            for trial, m in first.items()
        }
        if input_answers is None:
            from automl.search_setup import cv_folds

            folds = cv_folds(target, task=self.task, cv=self.cv, seed=self.seed)
            computed: list[Any] = [
                out_of_fold(
                    pipelines[m.trial], X, target, folds=folds, task=self.task, n_jobs=self.n_jobs
                )
                for m in self.inputs
            ]
            input_answers = computed
        columns = answer_columns(list(input_answers), self.task)
        wide_plan = widened_plan(self.plan, columns.shape[1])
        with threadpool_limits(self.n_jobs), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.first_ = {t: clone(p).fit(X, target) for t, p in pipelines.items()}
            wide = widen(X, columns)
            self.second_ = [
                build_pipeline(wide_plan, FAMILIES[m.family], m.params, context).fit(wide, target)
                for m in self.second
            ]
        if self.task != "regression":
            self.classes_ = np.arange(int(target.max()) + 1)
        return self

    def _blend(
        self, X: pd.DataFrame, inputs: dict[int, np.ndarray[Any, Any]] | None = None
    ) -> np.ndarray[Any, Any]:
        """The answer; ``inputs``, by trial, replace the inputs' refits' answers as the second
        level's columns (benchmarks/stack_inputs.py compares bags of fold models)."""
        frame = X.reset_index(drop=True)
        first = {t: answers_of(m, frame, self.task) for t, m in self.first_.items()}
        inputs = first if inputs is None else inputs
        columns = answer_columns([inputs[m.trial] for m in self.inputs], self.task)
        wide = widen(frame, columns)
        parts = [first[m.trial] * m.weight for m in self.members] + [
            answers_of(model, wide, self.task) * m.weight
            for model, m in zip(self.second_, self.second, strict=True)
        ]
        return np.asarray(np.sum(parts, axis=0), dtype=float)

    def predict(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        blended = self._blend(X)
        return blended if self.task == "regression" else np.argmax(blended, axis=1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        return self._blend(X)
