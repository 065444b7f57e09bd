"""Checks on what a user passes to ``fit``: refuse data no search can use, and say why."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.data.task import Task
from automl.exceptions import DataError


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
