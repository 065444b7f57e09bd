"""What kind of data a column holds, decided once and used by every stage."""

from __future__ import annotations

from typing import Literal

import numpy as np
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
    """Make a table storable as Parquet and usable by models, noting every change.

    Decimals become floats, mixed values text, infinities missing; binary columns (blobs) are
    dropped, since no model can use them.
    """
    notes: list[str] = []
    changed: dict[str, pd.Series] = {}
    dropped: list[str] = []
    for name in frame.columns:
        series = frame[name]
        if ptypes.is_float_dtype(series.dtype):
            infinite = np.isinf(series.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                changed[name] = series.mask(infinite)
                notes.append(
                    f"column {name!r}: {int(infinite.sum())} infinite values set to missing"
                )
            continue
        if series.dtype != object:
            continue
        inferred = ptypes.infer_dtype(series, skipna=True)
        if inferred == "decimal":
            changed[name] = series.astype(float)
        elif inferred in ("date", "datetime"):
            # Databases return DATE columns as Python date objects: make them datetimes.
            changed[name] = pd.to_datetime(series, errors="coerce")
        elif inferred == "bytes":
            dropped.append(name)
            notes.append(f"column {name!r} holds binary data (bytes): dropped, no model can use it")
        elif inferred.startswith("mixed"):
            changed[name] = series.map(lambda v: v if _missing(v) else str(v))
            notes.append(f"column {name!r} mixes value types ({inferred}); stored as text")
    if changed:
        frame = frame.assign(**changed)
    if dropped:
        frame = frame.drop(columns=dropped)
    return frame, notes


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
