"""The warm-start portfolio: proven configurations the search tries before TPE takes over.

``CANDIDATES`` are configurations of every family: each library's defaults, and variants that
AutoML systems commonly start from (larger and slower boosting, stronger regularisation).
``PORTFOLIO`` is the ordered subset the search enqueues (Optuna ``enqueue_trial``), chosen by
``benchmarks/portfolio.py`` on the public benchmark suite: greedily, the configuration that most
raises the mean over datasets of the best normalised CV score so far. The evidence, including
a leave-one-dataset-out check that the choice carries over to data it was not chosen on, is in
docs/search.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from automl.data.task import Task
from automl.families import FAMILIES
from automl.shared_study import StudyFull

# Parameters only classifiers have; a regression search leaves them out.
_CLASSIFIER_ONLY = frozenset({"class_weight"})


@dataclass(frozen=True)
class Config:
    name: str
    family: str
    params: dict[str, Any]

    def for_task(self, task: Task) -> dict[str, Any]:
        """The Optuna parameters of this configuration (``family`` and prefixed names)."""
        params = dict(self.params)
        if task == "regression" and FAMILIES[self.family].power_target:
            # The configurations were proven on the target as it is (automl.target_transform).
            params.setdefault("target", "identity")
        own = {
            f"{self.family}.{k}": v
            for k, v in params.items()
            if task != "regression" or k not in _CLASSIFIER_ONLY
        }
        return {"family": self.family, **own}


CANDIDATES: tuple[Config, ...] = (
    Config("hgb-default", "hist_gradient_boosting", {
        "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
        "l2_regularization": 1e-6, "max_features": 1.0, "class_weight": "none"}),
    Config("hgb-large", "hist_gradient_boosting", {
        "learning_rate": 0.05, "max_leaf_nodes": 64, "min_samples_leaf": 10,
        "l2_regularization": 1.0, "max_features": 0.7, "class_weight": "none"}),
    Config("hgb-small", "hist_gradient_boosting", {
        "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 40,
        "l2_regularization": 1.0, "max_features": 0.8, "class_weight": "none"}),
    Config("lightgbm-default", "lightgbm", {
        "n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20,
        "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 1e-6, "class_weight": "none"}),
    Config("lightgbm-large", "lightgbm", {
        "n_estimators": 500, "learning_rate": 0.03, "num_leaves": 63, "min_child_samples": 10,
        "subsample": 0.8, "colsample_bytree": 0.7, "reg_lambda": 1.0, "class_weight": "none"}),
    Config("lightgbm-small", "lightgbm", {
        "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 30,
        "subsample": 0.8, "colsample_bytree": 0.5, "reg_lambda": 3.0, "class_weight": "none"}),
    Config("xgboost-default", "xgboost", {
        "n_estimators": 200, "learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0,
        "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 1.0}),
    Config("xgboost-deep", "xgboost", {
        "n_estimators": 500, "learning_rate": 0.03, "max_depth": 8, "min_child_weight": 1.0,
        "subsample": 0.8, "colsample_bytree": 0.6, "reg_lambda": 1.0}),
    Config("xgboost-shallow", "xgboost", {
        "n_estimators": 400, "learning_rate": 0.05, "max_depth": 3, "min_child_weight": 3.0,
        "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 3.0}),
    # CatBoost's own defaults (depth 6, l2 3) at AutoGluon's learning rate; and a shallow,
    # faster variant.
    Config("catboost-default", "catboost", {
        "n_estimators": 1000, "learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 3.0,
        "random_strength": 1.0, "class_weight": "none"}),
    Config("catboost-shallow", "catboost", {
        "n_estimators": 500, "learning_rate": 0.08, "depth": 4, "l2_leaf_reg": 5.0,
        "random_strength": 1.0, "class_weight": "none"}),
    Config("random_forest-default", "random_forest", {
        "n_estimators": 300, "max_features": 0.5, "min_samples_leaf": 1,
        "class_weight": "none"}),
    Config("extra_trees-default", "extra_trees", {
        "n_estimators": 300, "max_features": 0.7, "min_samples_leaf": 1,
        "class_weight": "none"}),
    Config("extra_trees-smooth", "extra_trees", {
        "n_estimators": 300, "max_features": 0.5, "min_samples_leaf": 5,
        "class_weight": "none"}),
    Config("linear-ridge", "linear", {
        "regularization": 1.0, "l1_ratio": 0.0, "class_weight": "none", "features": "all"}),
    Config("knn-default", "knn", {
        "n_neighbors": 15, "weights": "distance", "p": 2, "features": "all"}),
    Config("mlp-default", "mlp", {
        "layers": 1, "width": 128, "alpha": 1e-4, "learning_rate_init": 1e-3,
        "features": "all"}),
)  # fmt: skip

# Chosen by benchmarks/portfolio.py (evidence in docs/search.md), cheapest first: a slow
# configuration first takes a whole worker of a short budget (catboost-default first cost
# diamonds_price 3 points of RMSE at 60 s).
PORTFOLIO: tuple[str, ...] = (
    "xgboost-shallow",
    "lightgbm-small",
    "linear-ridge",
    "hgb-large",
    "xgboost-deep",
    "catboost-default",
)

_BY_NAME = {c.name: c for c in CANDIDATES}


def portfolio(families: Iterable[str], task: Task) -> list[dict[str, Any]]:
    """The portfolio's configurations of ``families``, in order, as Optuna parameters."""
    allowed = set(families)
    return [_BY_NAME[name].for_task(task) for name in PORTFOLIO if _BY_NAME[name].family in allowed]


def enqueue_portfolio(study: Any, families: Iterable[str], task: Task) -> None:
    """Queue the portfolio's configurations of ``families`` as the study's next trials."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        for config in portfolio(families, task):
            # A resumed or shared study already has them: they are not queued twice.
            study.enqueue_trial(config, skip_if_exists=True)
    except StudyFull:
        pass  # a shared study's quota is reached: the rest of the portfolio does not count
    finally:
        optuna.logging.set_verbosity(verbosity)
