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
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


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
    warnings: list[str] = []

    def warn(message: str) -> None:
        logger.warning(message)
        warnings.append(message)

    require_column(frame, target, "data.target")
    if split.time_column is not None:
        require_column(frame, split.time_column, "split.time_column")
        if split.time_column == target:
            raise DataError("split.time_column names the target column; choose a time column.")
    rows_in = len(frame)

    no_label = frame[target].isna()
    if no_label.all():
        raise DataError(f"data.target = {target!r}: every value is missing; nothing to learn.")
    if no_label.any():
        warn(f"dropped {int(no_label.sum())} rows whose target {target!r} is missing")
        frame = frame.loc[~no_label].reset_index(drop=True)
    if frame[target].nunique() < 2:
        raise DataError(
            f"data.target = {target!r} is constant: every row has the same value, so there is "
            "nothing to predict. Check the target column and the source's filter."
        )
    task = infer_task(
        frame[target], requested=data.task, max_classes=prepare.max_classes, name=target
    )

    dropped: list[dict[str, str]] = []
    protected = {target, split.time_column}
    for name in prepare.drop_columns:
        require_column(frame, name, "prepare.drop_columns")
        if name in protected:
            raise DataError(f"prepare.drop_columns: {name!r} is the target or the time column.")
        dropped.append({"column": name, "reason": "listed in prepare.drop_columns"})
    frame = frame.drop(columns=list(prepare.drop_columns))

    for finding in checks.useless_columns(frame.drop(columns=[target])):
        if finding.column in protected:
            continue
        if prepare.drop_constant_columns:
            warn(f"dropped column {finding.column!r}: {finding.reason}")
            dropped.append({"column": finding.column, "reason": finding.reason})
            frame = frame.drop(columns=[finding.column])
        else:
            warn(f"column {finding.column!r} is useless ({finding.reason}); kept as configured")
    features = [c for c in frame.columns if c not in protected]
    if not features:
        raise DataError(
            "no feature columns are left after dropping "
            f"{', '.join(d['column'] for d in dropped) or 'nothing'}; the data needs at least "
            "one column besides the target."
        )

    id_like = checks.id_like_columns(frame[features])
    for finding in id_like:
        warn(
            f"column {finding.column!r} looks like an identifier ({finding.reason}); if it is "
            "one, add it to prepare.drop_columns"
        )
    duplicates = checks.duplicate_row_count(frame)
    if duplicates:
        warn(f"{duplicates} rows ({duplicates / len(frame):.2%}) duplicate an earlier row")

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
    )
    _check_folds(train, target=target, task=task, cv_folds=split.cv_folds)

    scores = checks.single_feature_scores(
        train[features],
        train[target],
        task=task,
        seed=split.seed,
        on_column=on_progress,
    )
    leaks = {name: s for name, s in scores.items() if s >= prepare.leakage_threshold}
    metric = "r2" if task == "regression" else "balanced_accuracy"
    for name, score in leaks.items():
        message = (
            f"column {name!r} alone predicts the target almost perfectly ({metric} {score:.3f} "
            f">= prepare.leakage_threshold {prepare.leakage_threshold}): probable leakage. If it "
            "is only known after the outcome, add it to prepare.drop_columns"
        )
        if prepare.fail_on_leakage:
            raise DataError(message.replace("probable leakage.", "probable leakage, and "
                                            "prepare.fail_on_leakage is set."))
        warn(message)
    overlap = checks.overlapping_rows(train, test)
    if overlap:
        warn(f"{overlap} test rows also appear, identical, in the training split")

    report: dict[str, Any] = {
        "target": target,
        "task": task,
        "task_source": "inferred" if data.task == "auto" else "params",
        "rows": {
            "input": rows_in,
            "dropped_missing_target": int(no_label.sum()),
            "train": len(train),
            "test": len(test),
        },
        "split": {**split_info, "cv_folds": split.cv_folds},
        "features": [{"name": c, "kind": column_kind(frame[c])} for c in features],
        "time_column": split.time_column,
        "dropped_columns": dropped,
        "id_like_columns": [{"column": f.column, "reason": f.reason} for f in id_like],
        "duplicates": {"rows": duplicates, "test_rows_in_train": overlap},
        "single_feature_scores": {
            "metric": metric,
            "scores": dict(sorted(scores.items(), key=lambda kv: -kv[1])),
        },
        "leakage": [{"column": c, "score": s, "metric": metric} for c, s in leaks.items()],
        "warnings": warnings,
    }
    if task != "regression":
        report["classes"] = sorted(str(c) for c in frame[target].unique())
        report["class_counts"] = {
            "train": _class_counts(train[target]),
            "test": _class_counts(test[target]),
        }
    return PreparedData(train=train, test=test, task=task, report=report)


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
