"""The systems the peers benchmark compares, and the one function that scores them all.

Each ``fit_*`` runs inside the benchmark's per-run subprocess (``peers.py --one``) and returns
the fitted model with the wall time of its ``fit``; ``test_score`` scores every system the same
way, from its predictions on the test split.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import Dataset, as_categories, load_suite

# Ours with one method switched off (or changed): what each method is worth.
ABLATIONS: dict[str, dict[str, Any]] = {
    "ours-no-portfolio": {"portfolio": False},
    "ours-no-ensemble": {"ensemble": False},
    "ours-hyperband": {"pruner": "hyperband"},
    "ours-no-pruning": {"pruning": False},
    "ours-no-early-stopping": {"early_stopping": False},
    "ours-no-target-transform": {"target_transform": False},
}
SYSTEMS = ("ours", "flaml", "hgb", "autogluon", *ABLATIONS)
# The suite's metric (scikit-learn scorer name) as FLAML names it.
FLAML_METRICS = {
    "roc_auc": "roc_auc",
    "neg_log_loss": "log_loss",
    "neg_root_mean_squared_error": "rmse",
}
# The suite's metric as AutoGluon names it.
AUTOGLUON_METRICS = {
    "roc_auc": "roc_auc",
    "neg_log_loss": "log_loss",
    "neg_root_mean_squared_error": "root_mean_squared_error",
}
Key = tuple[str, str, float, int]


@dataclass(frozen=True)
class Run:
    """One fit: a system on a dataset at a budget and seed."""

    dataset: str
    system: str
    budget_s: float
    seed: int
    n_jobs: int

    def key(self) -> Key:
        return (self.dataset, self.system, self.budget_s, self.seed)


@dataclass
class Fitted:
    """A fitted model, the test features in the form it predicts from, and the fit's wall time."""

    model: Any
    X_test: pd.DataFrame
    wall_s: float
    detail: dict[str, Any] = field(default_factory=dict)


# --- scoring: one function for every system -------------------------------------------------


def test_score(metric: str, model: Any, X_test: pd.DataFrame, y_test: pd.Series) -> float:
    """The test score (higher is better) from the model's predictions, identical for every
    system: -RMSE of ``predict``; ROC AUC of ``predict_proba[:, 1]`` for the class
    ``classes_[1]``; -log loss of ``predict_proba`` with ``classes_`` as its column order."""
    y_true = np.asarray(y_test)
    n = len(y_true)
    if metric == "neg_root_mean_squared_error":
        from sklearn.metrics import root_mean_squared_error

        predicted = np.asarray(model.predict(X_test), dtype=float)
        _expect(predicted.shape == (n,), f"predict returned shape {predicted.shape}, not ({n},)")
        return -float(root_mean_squared_error(y_true, predicted))
    classes = np.asarray(model.classes_)
    proba = np.asarray(model.predict_proba(X_test), dtype=float)
    _expect(
        proba.shape == (n, len(classes)),
        f"predict_proba returned shape {proba.shape}, not ({n}, {len(classes)}) for classes_",
    )
    if metric == "roc_auc":
        from sklearn.metrics import roc_auc_score

        _expect(len(classes) == 2, f"roc_auc needs two classes, the model has {len(classes)}")
        return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    if metric == "neg_log_loss":
        from sklearn.metrics import log_loss

        labels, proba = _with_unseen_classes(classes, proba, y_true)
        return -float(log_loss(y_true, proba, labels=labels))
    raise ValueError(f"no test score for metric {metric!r}")


def _with_unseen_classes(
    classes: np.ndarray[Any, Any], proba: np.ndarray[Any, Any], y_true: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Test classes the model never saw, appended with probability 0 (so log loss charges them
    fully instead of raising)."""
    known = set(classes.tolist())
    unseen = [c for c in pd.unique(pd.Series(y_true)).tolist() if c not in known]
    if not unseen:
        return classes, proba
    labels = np.asarray([*classes.tolist(), *unseen], dtype=object)
    return labels, np.hstack([proba, np.zeros((len(proba), len(unseen)))])


def label_agreement(model: Any, X_test: pd.DataFrame) -> float:
    """How often ``classes_[argmax predict_proba]`` equals ``predict``: near 1 when
    ``classes_`` is the column order of ``predict_proba``."""
    classes = np.asarray(model.classes_)
    by_proba = classes[np.asarray(model.predict_proba(X_test)).argmax(axis=1)]
    return float(np.mean(by_proba == np.asarray(model.predict(X_test))))


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


# --- the systems (run inside the subprocess) ------------------------------------------------


def fit_ours(data: Dataset, run: Run) -> Fitted:
    from automl import AutoMLClassifier, AutoMLRegressor

    X, y, X_test, _ = data.split()
    cls = AutoMLRegressor if data.task == "regression" else AutoMLClassifier
    model = cls(metric=data.metric, time_budget_s=run.budget_s, n_jobs=run.n_jobs, seed=run.seed,
                **ABLATIONS.get(run.system, {}))  # fmt: skip
    started = time.monotonic()
    model.fit(X, y)
    wall = time.monotonic() - started
    detail: dict[str, Any] = {
        "best_family": getattr(model, "best_family_", None),
        "cv_score": _number(getattr(model, "best_score_", None)),
        # Where the wall time went: the search (trials, ensemble selection) and the refit.
        "search_s": _number(getattr(getattr(model, "search_result_", None), "duration_s", None)),
        "refit_s": _number(getattr(model, "refit_time_s_", None)),
        "stopped_by": getattr(getattr(model, "search_result_", None), "stopped_by", None),
    }
    board = getattr(model, "leaderboard_", None)
    if isinstance(board, pd.DataFrame) and "state" in board.columns:
        detail["trials"] = len(board)
        detail["complete"] = int((board["state"] == "COMPLETE").sum())
    if hasattr(model, "ensemble_"):
        detail["ensemble"] = _ensemble_summary(model.ensemble_)
    return Fitted(model, X_test, wall, detail)


def _ensemble_summary(ensemble: Any) -> Any:
    """The ensemble's members (trial, family, weight) and scores, without their parameters;
    ``str`` of it when it offers no ``to_dict``."""
    if ensemble is None:
        return None
    to_dict = getattr(ensemble, "to_dict", None)
    if not callable(to_dict):
        return str(ensemble)
    try:
        summary = to_dict()
    except Exception as exc:  # a summary is not worth losing the run for
        return f"{ensemble!s} (to_dict failed: {exc})"
    if isinstance(summary, dict) and isinstance(summary.get("members"), list):
        summary = {
            **summary,
            "members": [
                {k: v for k, v in m.items() if k != "params"} if isinstance(m, dict) else m
                for m in summary["members"]
            ],
        }
    return summary


def fit_flaml(data: Dataset, run: Run) -> Fitted:
    from flaml import AutoML  # type: ignore[attr-defined]  # flaml re-exports it untyped

    X, y, X_test, _ = data.split()
    automl = AutoML()  # type: ignore[no-untyped-call]
    # FLAML turns object columns into categories itself, pinning the training categories for
    # predict (an unseen level becomes its missing-value level), so it gets the raw frames.
    started = time.monotonic()
    automl.fit(
        X_train=X,
        y_train=y,
        task="regression" if data.task == "regression" else "classification",
        metric=FLAML_METRICS[data.metric],
        time_budget=run.budget_s,
        n_jobs=run.n_jobs,
        seed=run.seed,
        verbose=0,  # its logger at CRITICAL
        mlflow_logging=False,  # no MLflow runs even if a tracking URI is in the environment
    )
    wall = time.monotonic() - started
    detail = {
        "best_estimator": getattr(automl, "best_estimator", None),
        "best_loss": _number(getattr(automl, "best_loss", None)),
    }
    return Fitted(automl, X_test, wall, detail)


def fit_hgb(data: Dataset, run: Run) -> Fitted:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    X, y, X_test, _ = data.split()
    X, X_test = as_categories(X, X_test)
    cls = (
        HistGradientBoostingRegressor
        if data.task == "regression"
        else HistGradientBoostingClassifier
    )
    model = cls(categorical_features="from_dtype", random_state=run.seed)
    # It takes no n_jobs; its OpenMP threads are held to n_jobs like the others' workers.
    with threadpool_limits(run.n_jobs):
        started = time.monotonic()
        model.fit(X, y)
        wall = time.monotonic() - started
    return Fitted(model, X_test, wall, {"n_iter": int(model.n_iter_)})


class _AutoGluonModel:
    """A fitted TabularPredictor with the interface ``test_score`` asks of every system."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.classes_ = np.asarray(predictor.class_labels) if predictor.class_labels else None

    def predict(self, X: pd.DataFrame) -> Any:
        return np.asarray(self.predictor.predict(X))

    def predict_proba(self, X: pd.DataFrame) -> Any:
        # Columns in the order of class_labels, as classes_ says.
        return np.asarray(self.predictor.predict_proba(X, as_pandas=False, as_multiclass=True))


def fit_autogluon(data: Dataset, run: Run) -> Fitted:
    """AutoGluon 1.6, presets="best_quality", as the issue's reference was measured. It is not
    one of our dependencies: run peers.py with the Python of an environment that has
    ``autogluon.tabular[all]`` (docs in RESULTS.md). It takes no seed; ``run.seed`` only names
    the repetition."""
    import atexit
    import shutil
    import tempfile

    from autogluon.tabular import TabularPredictor

    X, y, X_test, _ = data.split()
    train = X.assign(**{data.target: y})
    # Models stay on disk until the test split is scored; removed when this process ends.
    path = tempfile.mkdtemp(prefix="autogluon-")
    atexit.register(shutil.rmtree, path, True)
    predictor = TabularPredictor(
        label=data.target, problem_type=data.task, eval_metric=AUTOGLUON_METRICS[data.metric],
        path=path, verbosity=0,
    )  # fmt: skip
    started = time.monotonic()
    predictor.fit(train, presets="best_quality", time_limit=run.budget_s, num_cpus=run.n_jobs,
                  num_gpus=0)  # fmt: skip
    wall = time.monotonic() - started
    board = predictor.leaderboard(silent=True)
    detail = {
        "best_model": predictor.model_best,
        "models": len(board),
        "val_score": _number(board.iloc[0]["score_val"]) if len(board) else None,
    }
    return Fitted(_AutoGluonModel(predictor), X_test, wall, detail)


FITTERS: dict[str, Callable[[Dataset, Run], Fitted]] = {
    "ours": fit_ours,
    "flaml": fit_flaml,
    "hgb": fit_hgb,
    "autogluon": fit_autogluon,
    **dict.fromkeys(ABLATIONS, fit_ours),
}


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _versions(system: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = {
        "ours": ["automl-governance"],
        "flaml": ["flaml", "lightgbm", "xgboost"],
        "autogluon": ["autogluon.tabular", "lightgbm", "catboost", "xgboost", "torch"],
    }
    found = {}
    for name in ["scikit-learn", *names.get(system, [])]:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def run_one(bench: Path, run: Run, result: Path) -> None:
    """The subprocess: fit, score, and write the outcome as JSON to ``result``."""
    import logging
    import warnings

    logging.getLogger("flaml").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # the same for every system; stderr is not shown anyway
    outcome: dict[str, Any] = {"versions": _versions(run.system)}
    try:
        data = load_suite(bench, [run.dataset])[0]
        fitted = FITTERS[run.system](data, run)
        outcome |= {"wall_s": fitted.wall_s, "detail": fitted.detail}
        y_test = data.test[data.target]
        outcome["test_score"] = test_score(data.metric, fitted.model, fitted.X_test, y_test)
        if data.task != "regression":
            fitted.detail["label_agreement"] = label_agreement(fitted.model, fitted.X_test)
        outcome["error"] = None
    except Exception as exc:
        traceback.print_exc()
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    result.write_text(json.dumps(outcome, default=str))
