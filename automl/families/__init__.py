"""Model families: one module each, in an explicit registry.

``FAMILIES`` maps a family's name to its instance. ``register_family`` adds one (a plugin, or a
test's); the order of the registry is the order the search lists them in.
"""

from __future__ import annotations

from collections.abc import Sequence

from automl.data.task import Task
from automl.exceptions import ConfigError
from automl.families.base import BuildContext, Encoding, Family, Space
from automl.families.catboost import CatBoost
from automl.families.extra_trees import ExtraTrees
from automl.families.hist_gradient_boosting import HistGradientBoosting
from automl.families.knn import KNearestNeighbors
from automl.families.lightgbm import LightGBM
from automl.families.linear import Linear
from automl.families.mlp import MultiLayerPerceptron
from automl.families.random_forest import RandomForest
from automl.families.svm import SupportVectorMachine
from automl.families.xgboost import XGBoost

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Linear(),
        RandomForest(),
        ExtraTrees(),
        HistGradientBoosting(),
        LightGBM(),
        XGBoost(),
        CatBoost(),
        KNearestNeighbors(),
        SupportVectorMachine(),
        MultiLayerPerceptron(),
    )
}


def register_family(family: Family) -> None:
    """Add a family to the registry (its name must be new)."""
    if family.name in FAMILIES:
        raise ValueError(f"a family named {family.name!r} is already registered")
    FAMILIES[family.name] = family


def get_family(name: str, *, key: str = "families") -> Family:
    """The registered family called ``name``; a ConfigError listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"{key}: unknown model family {name!r}; known families: {', '.join(FAMILIES)}"
        ) from None


def eligible_families(
    names: Sequence[str] | None, *, n_rows: int, n_features: int, task: Task
) -> tuple[list[Family], dict[str, str]]:
    """The families to search and, for the others, why they were left out."""
    chosen = [FAMILIES[n] for n in (names or list(FAMILIES))]
    usable, skipped = [], {}
    for family in chosen:
        reason = family.skip_reason(n_rows=n_rows, n_features=n_features, task=task)
        if reason is None:
            usable.append(family)
        else:
            skipped[family.name] = reason
    if not usable:
        raise ConfigError(
            "no model family fits this data: " + "; ".join(skipped.values()) + ". Add other "
            "families to the search."
        )
    return usable, skipped


__all__ = [
    "FAMILIES",
    "BuildContext",
    "Encoding",
    "Family",
    "Space",
    "eligible_families",
    "get_family",
    "register_family",
]
