"""Model families that misbehave on purpose, plugged in through the public Family interface.

They live in an importable module (not a test file) because trial workers unpickle them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

from automl.families import BuildContext, Family, Space


class _Behaving(ClassifierMixin, BaseEstimator):
    def __init__(self, behaviour: str = "ok", seconds: float = 0.0) -> None:
        self.behaviour = behaviour
        self.seconds = seconds

    def fit(self, X: Any, y: Any) -> _Behaving:
        if self.behaviour == "raise":
            raise ValueError("this family always fails to fit")
        if self.behaviour == "hungry":
            self.ballast_ = np.ones(8 * 1024**3 // 8)  # 8 GiB
        if self.behaviour == "sleep":
            time.sleep(self.seconds)
        self.model_ = DummyClassifier(strategy="prior").fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X: Any) -> Any:
        return self.model_.predict(X)

    def predict_proba(self, X: Any) -> Any:
        proba = self.model_.predict_proba(X)
        return np.full_like(proba, np.nan) if self.behaviour == "nan" else proba


class _Overflowing(BaseEstimator):
    """A regressor whose predictions overflow every squared-error metric to infinity."""

    def fit(self, X: Any, y: Any) -> _Overflowing:
        self.fitted_ = True
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), 1e200)


class _Plugin(Family):
    behaviour = "ok"
    encoding = "ordinal"
    tasks = frozenset({"binary", "multiclass"})

    def search_space(self, space: Space, task: Any) -> dict[str, Any]:
        return {"knob": space.float("knob", 0.0, 1.0)}

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        return _Behaving(self.behaviour, seconds=60.0)


class Broken(_Plugin):
    name = "test_broken"
    behaviour = "raise"


class NotANumber(_Plugin):
    name = "test_nan"
    behaviour = "nan"


class Hungry(_Plugin):
    name = "test_hungry"
    behaviour = "hungry"


class Sleepy(_Plugin):
    name = "test_sleepy"
    behaviour = "sleep"


class Overflow(_Plugin):
    name = "test_overflow"
    tasks = frozenset({"regression"})

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        return _Overflowing()


class Slow(_Plugin):
    """Takes a quarter second per unit of ``n_estimators`` to fit: a cost the search can learn."""

    name = "test_slow"

    def search_space(self, space: Space, task: Any) -> dict[str, Any]:
        return {"n_estimators": space.int("n_estimators", 1, 3)}

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        return _Behaving("sleep", seconds=0.25 * params["n_estimators"])


class Plodding(_Plugin):
    """Takes 1 s per fold, whatever its parameters."""

    name = "test_plodding"

    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        return _Behaving("sleep", seconds=1.0)


PLUGINS = (Broken(), NotANumber(), Hungry(), Sleepy(), Overflow(), Slow(), Plodding())
