"""A JSON-ready description of a table: schema, missing values, cardinality, target, hash."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pandas as pd

from automl.data.schema import column_kind

# Value counts are listed only for columns with few levels: they describe categories, and
# listing the values of high-cardinality columns would copy personal data into the profile.
MAX_LEVELS_LISTED = 20


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the table's content: column names, dtypes and every value, in order.

    It does not depend on the file format or the writer's version, so the same data read from a
    CSV, a Parquet file or a database hashes the same when the dtypes agree.
    """
    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(f"{name}\x1f{frame[name].dtype}\x1e".encode())
    if len(frame):
        # NaN has many bit patterns and writers may canonicalise them: hash one NaN only.
        floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)]
        if floats:
            frame = frame.assign(**{c: frame[c].where(frame[c].notna(), np.nan) for c in floats})
        rows = pd.util.hash_pandas_object(frame, index=False, categorize=True)
        digest.update(rows.to_numpy(dtype=np.uint64).tobytes())
    return "sha256:" + digest.hexdigest()


def _number(value: Any) -> float | None:
    as_float = float(value)
    return None if math.isnan(as_float) or math.isinf(as_float) else round(as_float, 6)


def _column_profile(series: pd.Series) -> dict[str, Any]:
    kind = column_kind(series)
    missing = int(series.isna().sum())
    unique = int(series.nunique(dropna=True))
    info: dict[str, Any] = {
        "name": str(series.name),
        "dtype": str(series.dtype),
        "kind": kind,
        "missing": missing,
        "missing_share": round(missing / len(series), 6) if len(series) else 0.0,
        "unique": unique,
    }
    present = series.dropna()
    if kind == "numeric" and len(present):
        values = present.astype(float)
        info.update(
            min=_number(values.min()),
            max=_number(values.max()),
            mean=_number(values.mean()),
            std=_number(values.std(ddof=0)),
        )
    elif kind == "datetime" and len(present):
        info.update(min=str(present.min()), max=str(present.max()))
    if kind in ("categorical", "boolean") and unique <= MAX_LEVELS_LISTED:
        counts = present.astype(str).value_counts()
        info["levels"] = {str(k): int(v) for k, v in counts.items()}
    return info


def _target_profile(series: pd.Series) -> dict[str, Any]:
    info = _column_profile(series)
    present = series.dropna()
    if info["unique"] <= 50 or info["kind"] != "numeric":
        counts = present.astype(str).value_counts()
        info["distribution"] = {str(k): int(v) for k, v in counts.items()}
    else:
        quantiles = present.astype(float).quantile([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
        info["quantiles"] = {f"{q:g}": _number(v) for q, v in quantiles.items()}
    info.pop("levels", None)
    return info


def profile_dataset(frame: pd.DataFrame, *, target: str) -> dict[str, Any]:
    """Describe ``frame`` for people and later stages (the ingest stage's profile.json)."""
    return {
        "row_count": len(frame),
        "column_count": frame.shape[1],
        "content_hash": content_hash(frame),
        "memory_bytes": int(frame.memory_usage(deep=True).sum()),
        "target": _target_profile(frame[target]),
        "columns": [_column_profile(frame[name]) for name in frame.columns if name != target],
    }
