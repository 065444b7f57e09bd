"""The prepare step: check a table, infer its task, drop what cannot help, split it."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from automl.config import DataParams, PrepareParams, SplitParams
from automl.data import checks
from automl.data.schema import column_kind
from automl.data.split import split_dataset
from automl.data.task import Task, infer_task
from automl.exceptions import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    """The splits and everything the checks found (``report`` is the stage's checks.json)."""

    train: pd.DataFrame
    test: pd.DataFrame
    task: Task
    report: dict[str, Any] = field(repr=False)


def require_column(frame: pd.DataFrame, name: str, key: str) -> None:
    """Fail with the closest column names when ``name`` is not in ``frame``."""
    if name in frame.columns:
        return
    columns = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(name, columns, n=3)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    listed = ", ".join(map(repr, columns[:30])) + (" ..." if len(columns) > 30 else "")
    raise DataError(f"{key} = {name!r}: no such column in the data.{hint} Columns: {listed}.")


def _class_counts(series: pd.Series) -> dict[str, int]:
    counts = series.value_counts()
    return {str(k): int(v) for k, v in counts[counts > 0].sort_index().items()}


class _Notes:
    """Warnings found along the way: logged as they come, and kept for the report."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def warn(self, message: str) -> None:
        logger.warning(message)
        self.items.append(message)


def prepare_dataset(
    frame: pd.DataFrame,
    *,
    data: DataParams,
    prepare: PrepareParams,
    split: SplitParams,
    on_progress: Callable[[str], None] | None = None,
) -> PreparedData:
    """Run every check, split the data, and describe what was found and done."""
    target = data.target
    notes = _Notes()
    require_column(frame, target, "data.target")
    if split.time_column is not None:
        require_column(frame, split.time_column, "split.time_column")
        if split.time_column == target:
            raise DataError("split.time_column names the target column; choose a time column.")
    rows_in = len(frame)
    if isinstance(frame[target].dtype, pd.CategoricalDtype):
        # Only the classes that occur count; declared but unused categories are not classes.
        frame = frame.assign(**{target: frame[target].astype(object)})
    frame, unlabelled = _labelled_rows(frame, target, notes)
    task = infer_task(
        frame[target], requested=data.task, max_classes=prepare.max_classes, name=target
    )
    for name in prepare.protected_columns:
        require_column(frame, name, "prepare.protected_columns")
        if name in (target, split.time_column):
            raise DataError(
                f"prepare.protected_columns: {name!r} is the target or the time column; list "
                "only attributes the model must not use."
            )
    # Protected attributes stay in the splits, so groups can be compared, but are never features.
    protected = {target, split.time_column, *prepare.protected_columns}
    frame, dropped = _drop_columns(frame, prepare, protected, notes)
    features = [c for c in frame.columns if c not in protected]

    id_like = checks.id_like_columns(frame[features])
    for finding in id_like:
        notes.warn(
            f"column {finding.column!r} looks like an identifier ({finding.reason}); if it is "
            "one, add it to prepare.drop_columns"
        )
    duplicates = checks.duplicate_row_count(frame)
    if duplicates:
        notes.warn(f"{duplicates} rows ({duplicates / len(frame):.2%}) duplicate an earlier row")

    if task != "regression":
        tiny = {k: v for k, v in _class_counts(frame[target]).items() if v < 2}
        if tiny:
            raise DataError(
                f"data.target = {target!r}: classes with a single row cannot be split: "
                f"{', '.join(f'{k!r}' for k in tiny)}. Collect more rows, merge or drop them."
            )
    train, test, split_info = split_dataset(
        frame,
        target=target,
        task=task,
        test_size=split.test_size,
        seed=split.seed,
        stratify=split.stratify,
        time_column=split.time_column,
        time_format=split.time_format,
    )
    _check_folds(train, target=target, task=task, cv_folds=split.cv_folds)
    # Leakage is judged on the training split only: the test split stays unseen.
    scores = checks.single_feature_scores(
        train[features], train[target], task=task, seed=split.seed, on_column=on_progress
    )
    metric = "r2" if task == "regression" else "balanced_accuracy"
    leaks = _flag_leakage(scores, metric, prepare, notes)
    overlap = checks.overlapping_rows(train, test)
    if overlap:
        notes.warn(f"{overlap} test rows also appear, identical, in the training split")

    report: dict[str, Any] = {
        "target": target,
        "task": task,
        "task_source": "inferred" if data.task == "auto" else "params",
        "rows": {
            "input": rows_in,
            "dropped_missing_target": unlabelled,
            "train": len(train),
            "test": len(test),
        },
        "split": {**split_info, "cv_folds": split.cv_folds},
        "features": [{"name": c, "kind": column_kind(frame[c])} for c in features],
        "time_column": split.time_column,
        "protected_columns": list(prepare.protected_columns),
        "dropped_columns": dropped,
        "id_like_columns": [{"column": f.column, "reason": f.reason} for f in id_like],
        "duplicates": {"rows": duplicates, "test_rows_in_train": overlap},
        "single_feature_scores": {
            "metric": metric,
            "scores": dict(sorted(scores.items(), key=lambda kv: -kv[1])),
        },
        "leakage": [{"column": c, "score": s, "metric": metric} for c, s in leaks.items()],
        "warnings": notes.items,
    }
    if task != "regression":
        report["classes"] = sorted(str(c) for c in frame[target].unique())
        report["class_counts"] = {
            "train": _class_counts(train[target]),
            "test": _class_counts(test[target]),
        }
    return PreparedData(train=train, test=test, task=task, report=report)


def _labelled_rows(frame: pd.DataFrame, target: str, notes: _Notes) -> tuple[pd.DataFrame, int]:
    """Drop rows without a target; refuse a target that is empty or constant."""
    no_label = frame[target].isna()
    if no_label.all():
        raise DataError(f"data.target = {target!r}: every value is missing; nothing to learn.")
    if no_label.any():
        notes.warn(f"dropped {int(no_label.sum())} rows whose target {target!r} is missing")
        frame = frame.loc[~no_label].reset_index(drop=True)
    if frame[target].nunique() < 2:
        raise DataError(
            f"data.target = {target!r} is constant: every row has the same value, so there is "
            "nothing to predict. Check the target column and the source's filter."
        )
    return frame, int(no_label.sum())


def _drop_columns(
    frame: pd.DataFrame, prepare: PrepareParams, protected: set[str | None], notes: _Notes
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Drop the configured columns and those that carry no information."""
    dropped: list[dict[str, str]] = []
    for name in prepare.drop_columns:
        require_column(frame, name, "prepare.drop_columns")
        if name in protected:
            raise DataError(
                f"prepare.drop_columns: {name!r} is the target, the time column or a protected "
                "column; a column cannot be both dropped and kept."
            )
        dropped.append({"column": name, "reason": "listed in prepare.drop_columns"})
    frame = frame.drop(columns=list(prepare.drop_columns))
    candidates = frame[[c for c in frame.columns if c not in protected]]
    for finding in checks.useless_columns(candidates):
        if prepare.drop_constant_columns:
            notes.warn(f"dropped column {finding.column!r}: {finding.reason}")
            dropped.append({"column": finding.column, "reason": finding.reason})
            frame = frame.drop(columns=[finding.column])
        else:
            notes.warn(f"column {finding.column!r} is useless ({finding.reason}); kept as set")
    if all(c in protected for c in frame.columns):
        raise DataError(
            "no feature columns are left after dropping "
            f"{', '.join(d['column'] for d in dropped) or 'nothing'}; the data needs at least "
            "one column besides the target."
        )
    return frame, dropped


def _flag_leakage(
    scores: dict[str, float], metric: str, prepare: PrepareParams, notes: _Notes
) -> dict[str, float]:
    leaks = {name: s for name, s in scores.items() if s >= prepare.leakage_threshold}
    for name, score in leaks.items():
        message = (
            f"column {name!r} alone predicts the target almost perfectly ({metric} {score:.3f} "
            f">= prepare.leakage_threshold {prepare.leakage_threshold}): probable leakage. If it "
            "is only known after the outcome, add it to prepare.drop_columns"
        )
        if prepare.fail_on_leakage:
            raise DataError(f"{message} (prepare.fail_on_leakage is set).")
        notes.warn(message)
    return leaks


def _check_folds(train: pd.DataFrame, *, target: str, task: Task, cv_folds: int) -> None:
    if task == "regression":
        if len(train) < cv_folds:
            raise DataError(
                f"the training split has {len(train)} rows, fewer than split.cv_folds = "
                f"{cv_folds}. Use more data, a smaller split.test_size or fewer folds."
            )
        return
    short = {k: v for k, v in _class_counts(train[target]).items() if v < cv_folds}
    if short:
        listed = ", ".join(f"{k!r} ({v} rows)" for k, v in short.items())
        raise DataError(
            f"data.target = {target!r}: too few training rows in class {listed} for "
            f"split.cv_folds = {cv_folds} (each fold needs one). Collect more rows of it, merge "
            "it with a similar class, lower split.cv_folds or split.test_size."
        )
