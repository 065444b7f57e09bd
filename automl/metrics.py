"""Which scikit-learn scorer a search optimises, checked against the task."""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.data.task import Task
from automl.exceptions import ConfigError

DEFAULT_METRICS: dict[Task, str] = {
    "binary": "roc_auc",
    "multiclass": "neg_log_loss",
    "regression": "neg_root_mean_squared_error",
}
# Scorers that compare numbers, not classes.
_REGRESSION_PREFIXES = ("neg_mean_", "neg_median_", "neg_root_", "d2_")
_REGRESSION_NAMES = frozenset({"r2", "explained_variance", "max_error", "neg_max_error"})


def is_regression_metric(name: str) -> bool:
    return name in _REGRESSION_NAMES or name.startswith(_REGRESSION_PREFIXES)


def resolve_metric(metric: str | None, task: Task, *, key: str = "metric") -> str:
    """The scorer name to use: the task's default for None/"auto", else ``metric`` if it fits."""
    if metric is None or metric == "auto":
        return DEFAULT_METRICS[task]
    from sklearn.metrics import get_scorer_names

    names = get_scorer_names()
    if metric not in names:
        import difflib

        close = difflib.get_close_matches(metric, names, n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigError(
            f"{key} = {metric!r}: not a scikit-learn scorer name.{hint} See "
            "sklearn.metrics.get_scorer_names() for the list."
        )
    if (task == "regression") != is_regression_metric(metric):
        kind = "regression" if is_regression_metric(metric) else "classification"
        raise ConfigError(
            f"{key} = {metric!r} is a {kind} metric, but the task is {task}. Use one that fits, "
            f"e.g. {DEFAULT_METRICS[task]!r}, or leave it unset for the default."
        )
    if task != "regression":
        _check_on_sample(metric, task, key)
    return metric


def _check_on_sample(metric: str, task: Task, key: str) -> None:
    """Run the scorer once on a small made-up problem of this task, so that e.g. a binary-only
    metric (``f1``, ``roc_auc``) is refused for multiclass before any trial runs."""
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import get_scorer

    n_classes = 2 if task == "binary" else 3
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    # Searches score classifiers on class indices 0..k-1 (the positive class is 1).
    y = np.arange(30) % n_classes
    model: Any = DummyClassifier(strategy="stratified", random_state=0).fit(X, y)
    try:
        score = get_scorer(metric)(model, X, y)
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(
            f"{key} = {metric!r} does not work for a {task} task ({reason}). For multiclass "
            "use a multiclass variant such as 'f1_macro', 'roc_auc_ovr' or 'neg_log_loss'."
        ) from None
    if not np.isfinite(score):
        raise ConfigError(f"{key} = {metric!r} gives no finite score for a {task} task.")
