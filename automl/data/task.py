"""Which learning task a target implies: binary, multiclass or regression."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pandas.api import types as ptypes

from automl.data.schema import is_integral
from automl.exceptions import DataError

Task = Literal["binary", "multiclass", "regression"]


def infer_task(
    y: pd.Series, *, requested: str = "auto", max_classes: int = 20, name: str = "target"
) -> Task:
    """Infer the task from the target's values, or check that ``requested`` fits them.

    Non-numeric targets are classes. Numeric targets are classes when they hold whole numbers
    with at most ``max_classes`` distinct values, and a quantity to regress otherwise.
    """
    present = y.dropna()
    n_unique = int(present.nunique())
    numeric = ptypes.is_numeric_dtype(y.dtype) and not ptypes.is_bool_dtype(y.dtype)
    if requested == "regression":
        if not numeric:
            raise DataError(
                f"data.task = regression, but the target {name!r} is not numeric "
                f"(dtype {y.dtype}). Use task binary/multiclass, or fix the column."
            )
        return "regression"
    if requested == "binary" and n_unique != 2:
        raise DataError(
            f"data.task = binary, but the target {name!r} has {n_unique} distinct values. "
            "Set data.task: auto (or multiclass)."
        )
    if requested == "multiclass" and n_unique < 3:
        raise DataError(
            f"data.task = multiclass, but the target {name!r} has only {n_unique} distinct "
            "values. Set data.task: binary (or auto)."
        )
    if requested in ("binary", "multiclass"):
        return "binary" if requested == "binary" else "multiclass"
    if n_unique == 2:
        return "binary"
    if numeric and not (is_integral(present) and n_unique <= max_classes):
        return "regression"
    if n_unique > max_classes:
        raise DataError(
            f"the target {name!r} has {n_unique} distinct classes, more than "
            f"prepare.max_classes = {max_classes}. If that is intended, raise "
            "prepare.max_classes; if it is a quantity, convert it to numbers."
        )
    return "multiclass"
