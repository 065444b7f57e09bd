"""The column transformer each trial's pipeline starts with: impute, encode, scale, select.

``plan_columns`` decides once, from the training data, what every column is; ``build_pipeline``
turns a plan, a family and its parameters into an unfitted scikit-learn Pipeline. Every step
tolerates what real data does at predict time: unseen categories, missing values anywhere, and
columns that are entirely missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)

from automl.data.schema import column_kind
from automl.data.task import Task
from automl.families.base import BuildContext, Encoding, Family, split_params
from automl.target_transform import fit_target_as

MISSING = "__missing__"


@dataclass(frozen=True)
class ColumnPlan:
    """How each input column is treated. Categoricals with more levels than
    ``max_onehot_levels`` are target-encoded whatever the family."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    high_cardinality: tuple[str, ...]
    datetime: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numeric + self.categorical + self.high_cardinality + self.datetime


def plan_columns(X: pd.DataFrame, *, max_onehot_levels: int = 16) -> ColumnPlan:
    """Decide per column: numeric, low- or high-cardinality categorical, datetime, or ignored."""
    numeric, low, high, dates, ignored = [], [], [], [], []
    for name in X.columns:
        series = X[name]
        if series.isna().all():
            ignored.append(str(name))
            continue
        kind = column_kind(series)
        if kind == "numeric":
            numeric.append(str(name))
        elif kind == "datetime":
            dates.append(str(name))
        elif series.nunique(dropna=True) > max_onehot_levels:
            high.append(str(name))
        else:
            low.append(str(name))
    return ColumnPlan(tuple(numeric), tuple(low), tuple(high), tuple(dates), tuple(ignored))


# --------------------------------------------------------------------------------------------
# small transformers (module-level functions so that fitted pipelines pickle)


def as_text(X: Any) -> Any:
    """Categorical values as strings, missing ones as a category of their own."""
    frame = pd.DataFrame(X).astype(object)
    return frame.where(frame.notna(), MISSING).astype(str)


def as_float(X: Any) -> Any:
    """Numbers as float64, nullable integers' NA as NaN."""
    return pd.DataFrame(X).apply(pd.to_numeric, errors="coerce").astype("float64")


def date_parts(X: Any) -> Any:
    """Datetimes as numbers a model can split on: days since epoch, year, month, weekday."""
    frame = pd.DataFrame(X)
    parts: dict[str, Any] = {}
    for name in frame.columns:
        stamps = pd.to_datetime(frame[name], errors="coerce", utc=True)
        epoch_days = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)
        parts[f"{name}__days"] = epoch_days
        parts[f"{name}__year"] = stamps.dt.year
        parts[f"{name}__month"] = stamps.dt.month
        parts[f"{name}__weekday"] = stamps.dt.weekday
    return pd.DataFrame(parts, index=frame.index).astype("float64")


def _names_out(transformer: Any, names: Any) -> Any:
    return names


def _date_names_out(transformer: Any, names: Any) -> Any:
    return np.asarray(
        [f"{n}__{part}" for n in names for part in ("days", "year", "month", "weekday")],
        dtype=object,
    )


class CategoryCodes(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Ordinal codes as pandas categoricals with the categories fixed at fit time.

    Gradient-boosting libraries treat ``category`` columns natively; fixing the categories keeps
    fit and predict consistent, and an unseen value becomes missing rather than an error.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> CategoryCodes:
        self.encoder_ = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
        ).fit(as_text(X))
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        codes = self.encoder_.transform(as_text(X))
        columns = {}
        for i, name in enumerate(self.feature_names_in_):
            levels = list(range(len(self.encoder_.categories_[i])))
            columns[name] = pd.Categorical(codes[:, i], categories=levels)
        return pd.DataFrame(columns, index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return self.feature_names_in_


# --------------------------------------------------------------------------------------------


def _numeric_steps(scale: bool) -> Pipeline:
    steps: list[Any] = [
        FunctionTransformer(as_float, feature_names_out=_names_out),
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
    ]
    if scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps)


def _categorical_steps(encoding: Encoding) -> Any:
    if encoding == "native":
        return CategoryCodes()
    text = FunctionTransformer(as_text, feature_names_out=_names_out)
    if encoding == "onehot":
        encoder: Any = OneHotEncoder(handle_unknown="ignore", min_frequency=5, sparse_output=False)
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return make_pipeline(text, encoder)


def _target_encoding(task: Task, seed: int, scale: bool) -> Pipeline:
    target_type = {"binary": "binary", "multiclass": "multiclass", "regression": "continuous"}
    steps: list[Any] = [
        FunctionTransformer(as_text, feature_names_out=_names_out),
        # Cross-fitted within each fit, so no row is encoded with its own target.
        TargetEncoder(target_type=target_type[task], cv=KFold(5, shuffle=True, random_state=seed)),
    ]
    if scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps)


def _dates(scale: bool) -> Pipeline:
    steps: list[Any] = [
        FunctionTransformer(date_parts, feature_names_out=_date_names_out),
        SimpleImputer(strategy="median", keep_empty_features=True),
    ]
    if scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps)


def build_preprocessor(
    plan: ColumnPlan, *, encoding: Encoding, scale: bool, task: Task, seed: int
) -> ColumnTransformer:
    """The ColumnTransformer for a family that wants ``encoding`` and (maybe) scaling."""
    parts: list[tuple[str, Any, list[str]]] = []
    if plan.numeric:
        parts.append(("numeric", _numeric_steps(scale), list(plan.numeric)))
    if plan.categorical:
        parts.append(("categorical", _categorical_steps(encoding), list(plan.categorical)))
    if plan.high_cardinality:
        parts.append(("high_cardinality", _target_encoding(task, seed, scale),
                      list(plan.high_cardinality)))  # fmt: skip
    if plan.datetime:
        parts.append(("datetime", _dates(scale), list(plan.datetime)))
    transformer = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    if encoding == "native":
        # Boosting libraries read categoricals from pandas' category dtype.
        transformer.set_output(transform="pandas")
    return transformer


def _feature_step(prep: dict[str, Any], task: Task) -> Any | None:
    choice = prep.get("features", "all")
    if choice == "all":
        return None
    keep = float(prep["features_keep"])
    if choice == "pca":
        from sklearn.decomposition import PCA

        # A float n_components keeps the components that explain this share of the variance.
        return PCA(n_components=keep, svd_solver="full")
    from sklearn.feature_selection import SelectPercentile, f_classif, f_regression

    score = f_regression if task == "regression" else f_classif
    return SelectPercentile(score, percentile=max(1.0, keep * 100))


def build_pipeline(
    plan: ColumnPlan, family: Family, params: dict[str, Any], context: BuildContext
) -> Pipeline:
    """An unfitted pipeline: preprocessing for ``family``, then its estimator."""
    prep, model_params = split_params(params)
    steps: list[tuple[str, Any]] = [
        (
            "preprocess",
            build_preprocessor(
                plan,
                encoding=family.encoding,
                scale=family.scale,
                task=context.task,
                seed=context.seed,
            ),
        )
    ]
    feature_step = _feature_step(prep, context.task)
    if feature_step is not None:
        steps.append(("features", feature_step))
    estimator = family.build(model_params, context)
    if context.task == "regression":
        # Distance- and gradient-based regressors fit better on a standardised target.
        estimator = fit_target_as(
            estimator, transform=prep.get("target", "identity"), standardize=family.scale
        )
    steps.append(("model", estimator))
    return Pipeline(steps)
