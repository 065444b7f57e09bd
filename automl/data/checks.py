"""Checks on a table before it is split: useless columns, identifiers, duplicates, leakage."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.data.schema import column_kind, is_integral
from automl.data.task import Task

_ID_NAME = re.compile(r"(^|[^a-z])(id|uuid|guid)$|[a-z](Id|ID)$|^(id|uuid|guid)([^a-z]|$)", re.I)
# Below this many present values, "every value is unique" says nothing about a column.
_MIN_ROWS_FOR_ID = 20
_ID_UNIQUE_SHARE = 0.95


@dataclass(frozen=True)
class ColumnFinding:
    """A column a check flagged, with the reason in words."""

    column: str
    reason: str


def useless_columns(frame: pd.DataFrame) -> list[ColumnFinding]:
    """Columns that carry no information: every value missing, or one value and no gaps."""
    found = []
    for name in frame.columns:
        series = frame[name]
        if series.isna().all():
            found.append(ColumnFinding(name, "all values missing"))
        elif series.nunique(dropna=False) == 1:
            found.append(ColumnFinding(name, "constant (one value in every row)"))
    return found


def id_like_columns(frame: pd.DataFrame) -> list[ColumnFinding]:
    """Columns that look like row identifiers, which models would memorise rather than learn."""
    found = []
    for name in frame.columns:
        series = frame[name].dropna()
        n_present = len(series)
        if n_present < _MIN_ROWS_FOR_ID:
            continue
        kind = column_kind(series)
        unique = int(series.nunique())
        if kind == "categorical" and unique / n_present >= _ID_UNIQUE_SHARE:
            found.append(
                ColumnFinding(name, f"{unique / n_present:.0%} of its text values are distinct")
            )
        elif kind == "numeric" and is_integral(series) and unique / n_present >= _ID_UNIQUE_SHARE:
            values = series.to_numpy(dtype=float)
            consecutive = values.max() - values.min() + 1 == unique
            if consecutive or _ID_NAME.search(str(name)):
                why = "a consecutive range" if consecutive else "an identifier's name"
                found.append(ColumnFinding(name, f"distinct whole numbers with {why}"))
    return found


def duplicate_row_count(frame: pd.DataFrame) -> int:
    """Rows that repeat an earlier row exactly."""
    return int(frame.duplicated().sum())


def overlapping_rows(train: pd.DataFrame, test: pd.DataFrame) -> int:
    """Test rows that also stand, identical, in the training split."""
    if train.empty or test.empty:
        return 0
    seen = set(pd.util.hash_pandas_object(train, index=False).to_numpy().tolist())
    test_hashes = pd.util.hash_pandas_object(test, index=False).to_numpy().tolist()
    return sum(h in seen for h in test_hashes)


def single_feature_scores(
    features: pd.DataFrame,
    y: pd.Series,
    *,
    task: Task,
    seed: int,
    max_rows: int = 5000,
    on_column: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """How well each feature alone predicts the target, by 3-fold cross-validation.

    A small tree per feature (categories target-encoded inside each fold, so identifiers score
    nothing) scored by balanced accuracy for classes and R² for regression. A score near 1
    means the feature predicts the target almost perfectly: probable leakage.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import TargetEncoder
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if len(features) > max_rows:
        keep = np.random.default_rng(seed).choice(len(features), size=max_rows, replace=False)
        features, y = features.iloc[np.sort(keep)], y.iloc[np.sort(keep)]
    classify = task != "regression"
    target = pd.Series(pd.factorize(y)[0]) if classify else y.astype(float).reset_index(drop=True)
    if classify:
        smallest = int(target.value_counts().min())
        if smallest < 2:
            return {}
        cv: KFold | StratifiedKFold = StratifiedKFold(
            n_splits=min(3, smallest), shuffle=True, random_state=seed
        )
    else:
        cv = KFold(n_splits=3, shuffle=True, random_state=seed)
    scoring = "balanced_accuracy" if classify else "r2"
    encoding = {"binary": "binary", "multiclass": "multiclass", "regression": "continuous"}[task]
    scores: dict[str, float] = {}
    for name in features.columns:
        column = features[name].reset_index(drop=True)
        tree = (DecisionTreeClassifier if classify else DecisionTreeRegressor)(
            max_depth=6, min_samples_leaf=5, random_state=seed
        )
        kind = column_kind(column)
        if kind == "numeric":
            values = column.astype(float).to_frame()
            model = tree
        elif kind == "datetime":
            stamps = pd.to_datetime(column)
            values = stamps.astype("int64").where(stamps.notna()).astype(float).to_frame()
            model = tree
        else:
            values = column.astype(object).where(column.notna(), "<missing>").astype(str).to_frame()
            encoder = TargetEncoder(
                target_type=encoding, cv=KFold(5, shuffle=True, random_state=seed)
            )
            model = make_pipeline(encoder, tree)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = cross_val_score(model, values, target, cv=cv, scoring=scoring)
            except ValueError:
                # Values a tree cannot take (beyond float32): not a leak we can measure.
                result = np.array([np.nan])
        scores[name] = round(float(np.nanmean(result)), 4) if np.isfinite(result).any() else 0.0
        if on_column is not None:
            on_column(name)
    return scores
