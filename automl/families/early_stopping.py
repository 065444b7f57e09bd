"""Early stopping for gradient boosting: stop adding rounds once held-out rows stop improving.

The number of boosting rounds is the hyperparameter most tied to the learning rate and to the
data: searched on its own, a trial's rounds are mostly too few or partly wasted, and a low
learning rate needs more of them than any fixed range allows cheaply. The wrapper holds out a
slice of the rows it is given (stratified for a classifier), boosts on the rest with the
searched number of rounds as a ceiling, stops once the slice's loss has not improved for
``patience`` rounds, and predicts with its best round. Within a trial the slice comes out of
the training fold, so the fold's validation rows stay unseen; the final refit holds out a slice
of all rows the same way.

With fewer than ``MIN_ROWS`` rows in a training fold a slice is too small to tell a better
round from noise (and costs the fit rows it needs): picking the best of hundreds of rounds
on a few hundred rows fits the slice. On the benchmark's datasets with 1,700 to 2,700 rows
per training fold the search scored as well or better on test without it (docs/search.md).
:func:`applies` decides this once per search, from the training folds' size, so that the
trials and the refit on all rows (which has more rows) fit the same kind of model; the
families then leave the wrapper out.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.model_selection import train_test_split

Library = Literal["lightgbm", "xgboost", "catboost"]

# Rows of a training fold below which no slice is held out: the slice, a tenth, has at
# least 500 rows, enough that the loss of one round against the next is not mostly noise.
MIN_ROWS = 5000
VALIDATION_SHARE = 0.1
# A slice this large already measures the loss well; more rows are better spent on fitting.
MAX_VALIDATION_ROWS = 10_000
PATIENCE = 50


def boosting_ranges(early_stopping: bool) -> tuple[int, float]:
    """The most rounds and the lowest learning rate a boosting space searches.

    With early stopping the rounds are a ceiling and a trial pays only for the rounds that
    help, so low learning rates with many rounds are affordable; without it every round is
    fitted, and such trials take most of a budget for little."""
    return (3000, 0.005) if early_stopping else (1000, 0.01)


def early_stopped(
    model: Any, *, library: Library, task: str, early_stopping: bool, seed: int
) -> Any:
    """``model`` wrapped to stop early (a classifier or regressor wrapper by ``task``), or
    ``model`` itself when this search does not stop boosting early."""
    if not early_stopping:
        return model
    wrapper = EarlyStoppedRegressor if task == "regression" else EarlyStoppedClassifier
    return wrapper(model, library=library, random_state=seed)


def applies(n_rows: int, cv: int) -> bool:
    """Whether a search on ``n_rows`` rows with ``cv`` folds stops boosting early."""
    return n_rows * (cv - 1) // cv >= MIN_ROWS


class _EarlyStopped(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self,
        estimator: Any,
        *,
        library: Library,
        patience: int = PATIENCE,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.library = library
        self.patience = patience
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _EarlyStopped:
        estimator = clone(self.estimator)
        split = self._split(X, np.asarray(y))
        if split is None:
            estimator.fit(X, y)
            self.rounds_: int | None = None
        else:
            X_fit, X_valid, y_fit, y_valid = split
            self.rounds_ = _fit_stopping(
                estimator, self.library, (X_fit, y_fit), (X_valid, y_valid), self.patience
            )
        self.estimator_ = estimator
        self.n_features_in_ = estimator.n_features_in_
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_
        return self

    def predict(self, X: Any) -> Any:
        return self.estimator_.predict(X)

    def _split(self, X: Any, y: np.ndarray[Any, Any]) -> list[Any] | None:
        n_rows = len(y)
        n_valid = min(MAX_VALIDATION_ROWS, int(VALIDATION_SHARE * n_rows))
        stratify = None
        if isinstance(self, ClassifierMixin):
            _, counts = np.unique(y, return_counts=True)
            if counts.min() < 2 or n_valid < len(counts):
                # A class would be missing from one side of the split; fit on all rows.
                return None
            stratify = y
        elif n_valid < 1:
            return None
        split: list[Any] = train_test_split(
            X, y, test_size=n_valid, stratify=stratify, random_state=self.random_state
        )
        return split


class EarlyStoppedClassifier(ClassifierMixin, _EarlyStopped):  # type: ignore[misc]
    def fit(self, X: Any, y: Any) -> EarlyStoppedClassifier:
        super().fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> Any:
        return self.estimator_.predict_proba(X)


class EarlyStoppedRegressor(RegressorMixin, _EarlyStopped):  # type: ignore[misc]
    pass


def _fit_stopping(
    estimator: Any, library: Library, fit: tuple[Any, Any], valid: tuple[Any, Any], patience: int
) -> int:
    """Fit with early stopping on (X_valid, y_valid); the number of rounds kept."""
    if library == "lightgbm":
        from lightgbm import early_stopping

        estimator.fit(
            *fit,
            eval_X=valid[0],
            eval_y=valid[1],
            callbacks=[early_stopping(patience, first_metric_only=True, verbose=False)],
        )
        return int(estimator.best_iteration_ or estimator.n_estimators)
    if library == "catboost":
        # automl.families.catboost's model: it keeps the best round (use_best_model).
        estimator.fit(*fit, eval_set=valid, early_stopping_rounds=patience)
        best = estimator.best_iteration_
        return int(estimator.estimator.get_params()["n_estimators"]) if best is None else best + 1
    estimator.set_params(early_stopping_rounds=patience)
    estimator.fit(*fit, eval_set=[valid], verbose=False)
    return int(estimator.best_iteration) + 1
