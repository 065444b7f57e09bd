"""Shared by the benchmarks that take one search apart afterwards (bagging.py, stacking.py):
the search, its own CV folds, the arguments to refit its pipelines, and the results file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import git_commit, machine

from automl import AutoMLClassifier, AutoMLRegressor
from automl.search_setup import cv_folds, target_of


@dataclass(frozen=True)
class SearchRun:
    model: Any  # the fitted AutoMLClassifier or AutoMLRegressor
    target: np.ndarray[Any, Any]  # the training target as the trials saw it
    folds: list[Any]  # the search's own CV folds
    refit_args: dict[str, Any]  # keywords for automl.estimator.refit_best / refit_ensemble


def run_search(data: Any, *, seed: int, budget: float, n_jobs: int) -> SearchRun:
    X, y, _, _ = data.split()
    cls = AutoMLRegressor if data.task == "regression" else AutoMLClassifier
    model = cls(metric=data.metric, time_budget_s=budget, n_jobs=n_jobs, seed=seed)
    model.fit(X, y)
    result = model.search_result_
    _, target = target_of(y, task=data.task, positive_class=None)
    refit_args = dict(
        plan=result.plan, task=data.task, seed=seed, n_jobs=n_jobs, classes=result.classes,
        early_stopping=result.early_stopping,
    )  # fmt: skip
    folds = cv_folds(target, task=data.task, cv=model.cv, seed=seed)
    return SearchRun(model=model, target=target, folds=folds, refit_args=refit_args)


def arguments(*, budget: float) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("bench", type=Path)
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--budget", type=float, default=budget)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    return parser


def run_all(args: argparse.Namespace, one: Callable[..., dict[str, Any]]) -> None:
    """``one(data, seed=, budget=, n_jobs=)`` for every dataset and seed asked; each row is
    printed and the results file rewritten as it comes, so a stopped run keeps what it did."""
    from common import load_suite

    rows = []
    for data in load_suite(args.bench, args.datasets):
        for seed in args.seeds:
            row = one(data, seed=seed, budget=args.budget, n_jobs=args.n_jobs)
            print(json.dumps(row), flush=True)
            rows.append(row)
            write_runs(args.out, rows)


def write_runs(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text(
        json.dumps({"machine": machine(), "commit": git_commit(), "runs": rows}, indent=1) + "\n"
    )
