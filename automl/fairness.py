"""How a model treats groups of people: metrics per group of a sensitive attribute, and gaps.

For each configured attribute (``evaluate.groups``; a numeric one is cut into bands) the test
rows are grouped and each group gets its size, base rate, selection rate, true- and
false-positive rates, accuracy and the search metric (regression: mean prediction, RMSE, MAE,
the search metric). The gaps are measured over groups with at least ``min_group_size`` rows;
smaller groups are reported but left out of the gaps, because rates of a handful of rows are
noise. For classification, the rates are per predicted class (one-vs-rest) and a gap is the
largest over classes; with two classes that is the positive class.

- ``demographic_parity_difference``: max - min selection rate across groups;
- ``equalized_odds_difference``: the larger of the TPR gap and the FPR gap;
- ``score_gap``: best - worst group in the search metric.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl.exceptions import DataError
from automl.predictions import Predictions, score

MISSING = "(missing)"


def group_labels(values: pd.Series, *, bands: Sequence[float] | None, where: str) -> pd.Series:
    """One label per row: the value itself, or its band (``<25``, ``[25, 35)``, ``≥50``)."""
    if bands is None:
        labels = values.astype("string").fillna(MISSING)
        return labels.astype(str)
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(
            f"{where}: column {values.name!r} is not numeric, so it cannot be cut into bands; "
            "remove `bands` to compare its values as groups."
        )
    edges = [-math.inf, *bands, math.inf]
    names = [f"<{_num(bands[0])}"]
    names += [f"[{_num(a)}, {_num(b)})" for a, b in itertools.pairwise(bands)]
    names += [f"≥{_num(bands[-1])}"]
    cut = pd.cut(values.astype(float), bins=edges, labels=names, right=False)
    return cut.astype(object).where(cut.notna(), MISSING).astype(str)


def _num(value: float) -> str:
    return f"{value:g}"


def compare_groups(
    predictions: Predictions,
    labels: pd.Series,
    *,
    metric: str,
    min_group_size: int,
) -> dict[str, Any]:
    """Metrics per group and the gaps between the groups large enough to judge."""
    label_values = np.asarray(labels)
    groups: list[dict[str, Any]] = []
    for name in sorted(set(label_values), key=lambda v: (v == MISSING, v)):
        rows = np.flatnonzero(label_values == name)
        row: dict[str, Any] = {
            "group": name,
            "rows": len(rows),
            "share": len(rows) / len(predictions),
            "in_gaps": len(rows) >= min_group_size,
        }
        row |= _group_metrics(predictions, rows, metric)
        groups.append(row)
    judged = [g for g in groups if g["in_gaps"]]
    gaps: dict[str, float | None] = {"score_gap": _spread(g[metric] for g in judged)}
    if predictions.task != "regression":
        gaps |= _classification_gaps(predictions, judged)
    return {
        "groups": groups,
        "gaps": gaps,
        "left_out": [g["group"] for g in groups if not g["in_gaps"]],
        "min_group_size": min_group_size,
    }


def _group_metrics(
    predictions: Predictions, rows: np.ndarray[Any, Any], metric: str
) -> dict[str, Any]:
    y, predicted = predictions.y[rows], predictions.predicted[rows]
    found: dict[str, Any] = {metric: score(metric, predictions, rows)}
    if predictions.task == "regression":
        errors = y - predicted
        return found | {
            "mean_actual": float(np.mean(y)),
            "mean_predicted": float(np.mean(predicted)),
            "rmse": float(np.sqrt(np.mean(errors**2))),
            "mae": float(np.mean(np.abs(errors))),
        }
    assert predictions.classes is not None
    found["accuracy"] = float(np.mean(y == predicted))
    per_class = {}
    for cls in _judged_classes(predictions):
        actual, chosen = y == cls, predicted == cls
        per_class[str(cls)] = {
            "base_rate": float(np.mean(actual)),
            "selection_rate": float(np.mean(chosen)),
            "tpr": float(np.mean(chosen[actual])) if actual.any() else None,
            "fpr": float(np.mean(chosen[~actual])) if (~actual).any() else None,
        }
    if len(predictions.classes) == 2:
        return found | per_class[str(predictions.classes[1])]
    return found | {"classes": per_class}


def _judged_classes(predictions: Predictions) -> list[Any]:
    assert predictions.classes is not None
    classes = list(predictions.classes)
    return classes[1:] if len(classes) == 2 else classes


def _classification_gaps(
    predictions: Predictions, judged: list[dict[str, Any]]
) -> dict[str, float | None]:
    def rates(group: dict[str, Any], cls: Any) -> dict[str, Any]:
        if predictions.classes is not None and len(predictions.classes) == 2:
            return group
        return dict(group["classes"][str(cls)])

    parity: list[float] = []
    odds: list[float] = []
    for cls in _judged_classes(predictions):
        per_group = [rates(g, cls) for g in judged]
        spread = _spread(r["selection_rate"] for r in per_group)
        if spread is not None:
            parity.append(spread)
        tpr, fpr = (_spread(r[k] for r in per_group) for k in ("tpr", "fpr"))
        odds += [v for v in (tpr, fpr) if v is not None]
    return {
        "demographic_parity_difference": max(parity) if parity else None,
        "equalized_odds_difference": max(odds) if odds else None,
    }


def _spread(values: Any) -> float | None:
    """max - min of the values that are defined; None with fewer than two."""
    present = [float(v) for v in values if v is not None]
    return max(present) - min(present) if len(present) >= 2 else None
