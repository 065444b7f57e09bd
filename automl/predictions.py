"""A model's answers on a labelled table, computed once and scored many ways.

Bootstrap intervals and per-group metrics score the same predictions on many subsets of rows;
:func:`score` replays stored predictions through scikit-learn's own scorer for a metric name,
so any scorer the search accepts (``roc_auc``, ``neg_log_loss``, ``r2``, ...) works on a subset
without predicting again.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer

from automl.data.task import Task


@dataclass(frozen=True)
class Predictions:
    """Labels, predictions and (for classifiers) class probabilities, row-aligned."""

    task: Task
    y: np.ndarray[Any, Any]
    predicted: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None
    classes: np.ndarray[Any, Any] | None

    def __len__(self) -> int:
        return len(self.y)

    def encoded(self) -> Predictions:
        """The same with classes numbered 0..k-1: metrics agree, and scikit-learn checks
        integer labels many times faster than strings (the bootstrap scores thousands)."""
        if self.classes is None or self.is_encoded():
            return self
        codes = pd.Categorical(self.y, categories=self.classes).codes.astype(np.intp)
        predicted = np.argmax(self.proba, axis=1) if self.proba is not None else self.predicted
        return Predictions(self.task, codes, predicted, self.proba, np.arange(len(self.classes)))

    def is_encoded(self) -> bool:
        return self.classes is not None and np.array_equal(
            self.classes, np.arange(len(self.classes))
        )


def predict(model: Any, X: pd.DataFrame, y: pd.Series, *, task: Task) -> Predictions:
    if task == "regression":
        predicted = np.asarray(model.predict(X), dtype=float)
        return Predictions(task, np.asarray(y, dtype=float), predicted, None, None)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    classes = np.asarray(model.classes_)
    return Predictions(task, np.asarray(y), classes[np.argmax(proba, axis=1)], proba, classes)


class _ReplayClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Answers with stored predictions for the row numbers it is given as X."""

    def __init__(self, predictions: Predictions) -> None:
        self.predictions = predictions
        self.classes_ = predictions.classes

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.predictions.predicted[_rows(X)])

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        assert self.predictions.proba is not None
        return np.asarray(self.predictions.proba[_rows(X)])


class _ReplayRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, predictions: Predictions) -> None:
        self.predictions = predictions

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.predictions.predicted[_rows(X)])


def _rows(X: Any) -> np.ndarray[Any, Any]:
    return np.asarray(X, dtype=np.intp).ravel()


def score(metric: str, predictions: Predictions, rows: np.ndarray[Any, Any]) -> float | None:
    """scikit-learn's scorer ``metric`` on the given rows; None where it is undefined there
    (an AUC on rows of one class). Classes are scored by number, so for two classes the
    positive one is the last, as everywhere else here (scikit-learn's default ``pos_label=1``
    means nothing for labels such as "bad"/"good")."""
    value = _replay_score(metric, predictions.encoded(), rows)
    return value if np.isfinite(value) else None


def _replay_score(metric: str, predictions: Predictions, rows: np.ndarray[Any, Any]) -> float:
    replay: BaseEstimator = (
        _ReplayRegressor(predictions)
        if predictions.task == "regression"
        else _ReplayClassifier(predictions)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(get_scorer(metric)(replay, rows.reshape(-1, 1), predictions.y[rows]))
        except ValueError:
            return float("nan")


def fold_predictions(
    model: Any, X: pd.DataFrame, *, task: Task, n_classes: int
) -> np.ndarray[Any, Any]:
    """A fitted search pipeline's answers on ``X``: regression values, or probabilities with
    one column per class 0..n_classes-1 (a class missing from the fold's training rows gets
    probability 0), so answers of different trials line up column by column."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    known = np.asarray(model.classes_, dtype=np.intp)
    if len(known) == n_classes:
        return proba
    full = np.zeros((len(proba), n_classes))
    full[:, known] = proba
    return full


def score_predictions(
    metric: str, y: np.ndarray[Any, Any], answers: np.ndarray[Any, Any], *, task: Task
) -> float:
    """``metric`` on answers as :func:`fold_predictions` gives them (classes as 0..k-1):
    NaN where the metric is undefined, and an overflow is left as it is (-inf)."""
    if task == "regression":
        predictions = Predictions(task, y, answers, None, None)
    else:
        classes = np.arange(answers.shape[1])
        predictions = Predictions(task, y, np.argmax(answers, axis=1), answers, classes)
    return _replay_score(metric, predictions, np.arange(len(y)))
