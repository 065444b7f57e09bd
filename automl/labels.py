"""Class labels: searches train classifiers on indices 0..k-1; users get their own labels back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from automl.exceptions import DataError


def encode_classes(
    y: pd.Series, *, positive_class: Any = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Class labels in sorted order (``positive_class`` last, if given) and each row's index.

    For binary tasks the last class is the positive one: the one ``roc_auc``, ``f1`` and
    ``average_precision`` are about.
    """
    classes = np.asarray(sorted(pd.unique(y.dropna()), key=str), dtype=object)
    if positive_class is not None:
        if positive_class not in set(classes.tolist()):
            raise DataError(
                f"positive_class = {positive_class!r} is not one of the classes "
                f"{', '.join(map(repr, classes.tolist()))}."
            )
        classes = np.asarray([c for c in classes if c != positive_class] + [positive_class],
                             dtype=object)  # fmt: skip
    index = {label: i for i, label in enumerate(classes.tolist())}
    codes = np.asarray([index[v] for v in y.tolist()], dtype=np.int64)
    return classes, codes


class LabeledClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Fits ``estimator`` on class indices and answers in the labels ``classes``."""

    def __init__(self, estimator: Any, classes: Any) -> None:
        self.estimator = estimator
        self.classes = classes

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LabeledClassifier:
        self.classes_ = np.asarray(self.classes, dtype=object)
        index = {label: i for i, label in enumerate(self.classes_.tolist())}
        codes = np.asarray([index[v] for v in pd.Series(y).tolist()], dtype=np.int64)
        self.estimator_ = clone(self.estimator).fit(X, codes, **fit_params)
        return self

    def predict(self, X: Any) -> Any:
        return self.classes_[np.asarray(self.estimator_.predict(X), dtype=np.int64)]

    def predict_proba(self, X: Any) -> Any:
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)
        # XGBoost answers in float32, whose rows sum to 1 only within 6e-8; scikit-learn's
        # log_loss warns about rows that do not sum to 1 in float64.
        return proba / proba.sum(axis=1, keepdims=True)
