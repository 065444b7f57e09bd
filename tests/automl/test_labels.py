"""Classifiers answer in the caller's labels, with probabilities that are a distribution."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import log_loss
from xgboost import XGBClassifier

from automl.labels import LabeledClassifier


def test_probabilities_sum_to_one_in_float64_whatever_the_model_answers_in() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((300, 4))
    y = np.array(["low", "mid", "high"], dtype=object)[(X[:, 0] * 3).astype(int)]
    model = XGBClassifier(n_estimators=5, n_jobs=1)
    raw = model.fit(X, (X[:, 0] * 3).astype(int)).predict_proba(X)
    assert raw.dtype == np.float32  # what XGBoost answers in, off 1 by rounding

    labeled = LabeledClassifier(XGBClassifier(n_estimators=5, n_jobs=1), ["high", "low", "mid"])
    proba = labeled.fit(X, y).predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn warns about rows that do not sum to 1
        assert log_loss(y, proba, labels=labeled.classes_) > 0
