"""What every role of a search derives the same way from the data and settings: the checked
data, the target as the trials see it, the eligible families, the column plan and the folds.

A solo search, a coordinator and every worker call :func:`prepare`, so they agree on the
folds and on whether boosting stops early without having to tell each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.config import SearchParams, is_server_storage
from automl.data.task import Task
from automl.exceptions import ConfigError, DataError
from automl.families import Family, eligible_families
from automl.families.early_stopping import applies as early_stopping_applies
from automl.metrics import resolve_metric
from automl.preprocess import ColumnPlan, plan_columns
from automl.redact import redact_url
from automl.trials import Role
from automl.validation import check_training_data


def cv_folds(y: np.ndarray[Any, Any], *, task: Task, cv: int, seed: int) -> list[Any]:
    """The search's folds: stratified by class for classifiers, shuffled with ``seed``."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter: Any = (
        KFold(n_splits=cv, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    )
    return list(splitter.split(np.zeros(len(y)), y))


@dataclass(frozen=True)
class Prepared:
    """What every role derives the same way from the data and settings."""

    X: pd.DataFrame
    target: np.ndarray[Any, Any]
    classes: np.ndarray[Any, Any] | None
    task: Task
    metric: str
    cv: int
    plan: ColumnPlan
    families: list[Family]
    skipped: dict[str, str]
    folds: list[Any]
    settings: SearchParams


def prepare(
    X: pd.DataFrame, y: pd.Series, *, task: Task, settings: SearchParams, cv: int, role: Role,
    positive_class: Any,
) -> Prepared:  # fmt: skip
    """Check the data and settings for ``role`` and derive what its trials need; raises
    ConfigError or DataError naming what is wrong."""
    metric = resolve_metric(settings.metric, task, key="metric")
    X, y = check_training_data(X, y, task=task, cv=cv)
    if role != "solo" and not is_server_storage(settings.storage):
        raise ConfigError(
            f"a {role} needs search.storage on a database server (postgresql://...), "
            f"not {redact_url(settings.storage)}"
        )
    families, skipped = eligible_families(
        settings.families, n_rows=len(X), n_features=X.shape[1], task=task
    )
    plan = plan_columns(X)
    if not plan.columns:
        raise DataError(
            f"none of the {X.shape[1]} columns of X can be used: all of them are entirely missing."
        )
    classes, target = target_of(y, task=task, positive_class=positive_class)
    # Decided once from the folds' size, so the trials and the refit fit the same kind of model.
    settings = settings.model_copy(
        update={"early_stopping": settings.early_stopping and early_stopping_applies(len(X), cv)}
    )
    return Prepared(
        X=X, target=target, classes=classes, task=task, metric=metric, cv=cv, plan=plan,
        families=list(families), skipped=skipped, settings=settings,
        folds=cv_folds(target, task=task, cv=cv, seed=settings.seed),
    )  # fmt: skip


def target_of(
    y: pd.Series, *, task: Task, positive_class: Any
) -> tuple[np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]:
    """The classes (None for regression) and the target as the trials see it."""
    from automl.labels import encode_classes

    if task == "regression":
        return None, y.to_numpy(dtype=float)
    return encode_classes(y, positive_class=positive_class)
