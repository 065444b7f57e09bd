"""What kind of data a column holds, decided once and used by every stage."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pandas.api import types as ptypes

ColumnKind = Literal["numeric", "categorical", "boolean", "datetime"]


def column_kind(series: pd.Series) -> ColumnKind:
    """Classify a column the way the preprocessing will treat it."""
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "datetime"
    if ptypes.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def is_integral(series: pd.Series) -> bool:
    """True when every present value is a whole number (3.0 counts, 3.5 does not)."""
    if ptypes.is_bool_dtype(series.dtype) or not ptypes.is_numeric_dtype(series.dtype):
        return False
    if ptypes.is_integer_dtype(series.dtype):
        return True
    values = series.dropna().to_numpy(dtype=float)
    return bool(len(values)) and bool((values == values.round()).all())


def normalize_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Make object columns storable as Parquet: decimals become floats, mixed values text.

    Returns the frame and a note for every column that was changed.
    """
    notes: list[str] = []
    changed = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype != object:
            continue
        inferred = ptypes.infer_dtype(series, skipna=True)
        if inferred == "decimal":
            changed[name] = series.astype(float)
        elif inferred.startswith("mixed") or inferred == "bytes":
            changed[name] = series.where(series.isna(), series.astype(str))
            notes.append(f"column {name!r} mixes value types ({inferred}); stored as text")
    if changed:
        frame = frame.assign(**changed)
    return frame, notes
