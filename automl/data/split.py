"""Train/test splits: stratified and seeded, or ordered in time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from automl.data.task import Task
from automl.exceptions import DataError


def split_dataset(
    frame: pd.DataFrame,
    *,
    target: str,
    task: Task,
    test_size: float,
    seed: int,
    stratify: bool = True,
    time_column: str | None = None,
    time_format: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split ``frame`` into train and test; return both and a description of the split."""
    if time_column is not None:
        stamps = _as_time(frame[time_column], time_column, time_format)
        return _time_split(frame, stamps, time_column=time_column, test_size=test_size)
    from sklearn.model_selection import train_test_split

    by_class = stratify and task != "regression"
    positions = np.arange(len(frame))
    try:
        train_pos, test_pos = train_test_split(
            positions,
            test_size=test_size,
            random_state=seed,
            stratify=frame[target].to_numpy() if by_class else None,
        )
    except ValueError as exc:
        raise DataError(
            f"cannot split {len(frame)} rows with split.test_size = {test_size}: {exc}. "
            "Use more data or change split.test_size."
        ) from None
    # Keeping the source's row order makes the splits easy to diff and to read.
    train = frame.iloc[np.sort(train_pos)].reset_index(drop=True)
    test = frame.iloc[np.sort(test_pos)].reset_index(drop=True)
    method = "stratified" if by_class else "random"
    return train, test, {"method": method, "test_size": test_size, "seed": seed}


def _time_split(
    frame: pd.DataFrame, stamps: pd.Series, *, time_column: str, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    order = np.argsort(stamps.to_numpy(), kind="stable")
    ordered = frame.iloc[order].reset_index(drop=True)
    sorted_stamps = stamps.iloc[order].reset_index(drop=True)
    values = sorted_stamps.to_numpy()
    cut = len(frame) - max(1, math.ceil(len(frame) * test_size))
    # Rows that share the cut's timestamp all go to test, so no test row predates a train row.
    cut = int(np.searchsorted(values, values[cut], side="left"))
    cut_value = sorted_stamps.iloc[cut]
    if cut == 0:
        raise DataError(
            f"split.time_column = {time_column!r}: every row falls at or after the cut point "
            f"{cut_value}, leaving no training rows. Lower split.test_size or use a finer time."
        )
    train = ordered.iloc[:cut].reset_index(drop=True)
    test = ordered.iloc[cut:].reset_index(drop=True)
    details = {
        "method": "time",
        "time_column": time_column,
        "test_size": test_size,
        "test_share": round(len(test) / len(frame), 6),
        "train_until": str(sorted_stamps.iloc[cut - 1]),
        "test_from": str(cut_value),
    }
    return train, test, details


def _as_time(series: pd.Series, name: str, time_format: str | None) -> pd.Series:
    if series.isna().any():
        raise DataError(
            f"split.time_column = {name!r}: {int(series.isna().sum())} rows have no time, so "
            "they cannot be ordered. Fill or drop them, or unset split.time_column."
        )
    if ptypes.is_datetime64_any_dtype(series.dtype) or (
        ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)
    ):
        return series.reset_index(drop=True)
    # Without a format only ISO 8601 is read: "07/01/2024" could be July or January.
    parsed = pd.to_datetime(
        series.astype(str), errors="coerce", format=time_format or "ISO8601", utc=True
    )
    bad = parsed.isna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        how = (
            f"do not match split.time_format = {time_format!r}"
            if time_format
            else "are not ISO 8601 dates (2024-01-31, 2024-01-31T12:00)"
        )
        raise DataError(
            f"split.time_column = {name!r}: {int(bad.sum())} values {how} (the first in row "
            f"{first + 1}). Set split.time_format to the column's format, e.g. '%d/%m/%Y'."
        )
    return parsed.reset_index(drop=True)
