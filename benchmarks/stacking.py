"""Would a stacked second level beat ensemble selection? (evidence for issue 9's next step)

For each dataset and seed: our AutoML at the given budget, then up to ``--bases`` of the
search's pipelines (the ensemble's members first, then the best complete trial of each family
not among them) fitted again on each of the search's own CV folds, for out-of-fold
predictions on every training row and a bag of five fold models per pipeline for the test
rows. On those, three second levels, each scored on CV (the same folds) and on the test split:

- ``caruana``: what we ship, the search's ensemble (or best trial) refit on all rows;
- ``linear``: a linear model on the bases' predictions (multinomial logistic regression on
  their log-probabilities; non-negative least squares for regression);
- ``passthrough``: a HistGradientBoosting model on the raw features together with the bases'
  predictions;
- ``stack``: AutoGluon's stacking: the best ``--stacked`` bases' own pipelines fitted again
  on the raw features together with all bases' out-of-fold predictions (a bag of fold models
  each, answering on test from the bases' bagged test answers), then ensemble selection over
  first and second level together; ``caruana_bag`` is the same selection over the first level
  only, scored with the bagged test answers, the like-for-like baseline.

    python benchmarks/stacking.py ../shared/bench --datasets hpc_jobs credit_data --seeds 0 \
        --budget 300 --out benchmarks/stacking.json
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import as_categories, load_suite
from search_runs import arguments, run_search, write_runs

from automl.ensemble import Candidate, select_ensemble
from automl.estimator import refit_best
from automl.preprocess import plan_columns

EPS = 1e-6


def score(metric: str, target: np.ndarray[Any, Any], answers: np.ndarray[Any, Any]) -> float:
    """Higher is better; ``answers`` are probabilities in class-code order, or values."""
    from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

    if metric == "neg_root_mean_squared_error":
        return -float(root_mean_squared_error(target, answers))
    if metric == "roc_auc":
        return float(roc_auc_score(target, answers[:, 1]))
    clipped = np.clip(answers, EPS, 1)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return -float(log_loss(target, clipped, labels=range(answers.shape[1])))


def answers_of(model: Any, X: pd.DataFrame, task: str) -> np.ndarray[Any, Any]:
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    return np.asarray(model.predict_proba(X), dtype=float)


def bases_of(result: Any, limit: int) -> list[tuple[str, dict[str, Any]]]:
    picked: list[tuple[int, str, dict[str, Any]]] = []
    if result.ensemble is not None:
        picked = [(m.trial, m.family, m.params) for m in result.ensemble.members]
    else:
        picked = [(result.best.number, result.best.family, result.best.params)]
    complete = sorted(
        (r for r in result.records if r.state == "COMPLETE" and r.cv_mean is not None),
        key=lambda r: -r.cv_mean,
    )
    families = {family for _, family, _ in picked}
    for record in complete:
        if record.family not in families:
            picked.append((record.number, record.family, record.params))
            families.add(record.family)
    seen: set[int] = set()
    out = []
    for trial, family, params in picked:
        if trial not in seen:
            seen.add(trial)
            out.append((family, params))
    return out[:limit]


def features(answers: list[np.ndarray[Any, Any]], task: str) -> np.ndarray[Any, Any]:
    if task == "regression":
        return np.column_stack(answers)
    if task == "binary":
        logit = [np.log(np.clip(a[:, 1], EPS, 1 - EPS) / np.clip(a[:, 0], EPS, 1)) for a in answers]
        return np.column_stack(logit)
    return np.column_stack([np.log(np.clip(a, EPS, 1)) for a in answers])


def linear_level(task: str, seed: int) -> Any:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if task == "regression":
        return LinearRegression(positive=True)
    return LogisticRegression(C=1.0, max_iter=2000)


def passthrough_level(X: pd.DataFrame, task: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    return cls(
        learning_rate=0.05, max_iter=1000, early_stopping=True, n_iter_no_change=20,
        categorical_features="from_dtype", random_state=seed,
    )  # fmt: skip


def level_answers(model: Any, Z: Any, task: str) -> np.ndarray[Any, Any]:
    return np.asarray(model.predict(Z) if task == "regression" else model.predict_proba(Z))


def _rows(Z: Any, idx: np.ndarray[Any, Any]) -> Any:
    return Z.iloc[idx] if isinstance(Z, pd.DataFrame) else Z[idx]


def second_level(
    make: Any,
    inputs: tuple[Any, Any],
    *,
    target: np.ndarray[Any, Any],
    folds: list[Any],
    task: str,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Out-of-fold answers on the same folds, and the answers on test of a fit on all rows."""
    Z, Z_test = inputs
    oof: np.ndarray[Any, Any] | None = None
    for train_idx, valid_idx in folds:
        fitted = make().fit(_rows(Z, train_idx), target[train_idx])
        part = level_answers(fitted, _rows(Z, valid_idx), task)
        if oof is None:
            oof = np.zeros((len(target), *part.shape[1:]))
        oof[valid_idx] = part
    assert oof is not None
    return oof, level_answers(make().fit(Z, target), Z_test, task)


def bagged(
    run: Any, X: pd.DataFrame, X_test: pd.DataFrame, y: pd.Series, *, family: str,
    params: dict[str, Any], task: str, refit_args: dict[str, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:  # fmt: skip
    """Out-of-fold answers of one pipeline on the search's folds, and its fold models' mean
    answer on test."""
    oof: np.ndarray[Any, Any] | None = None
    bag = []
    for train_idx, valid_idx in run.folds:
        fitted = refit_best(
            X.iloc[train_idx], y.iloc[train_idx], family=family, params=params, **refit_args
        )
        part = answers_of(fitted, X.iloc[valid_idx], task)
        if oof is None:
            oof = np.zeros((len(X), *part.shape[1:]))
        oof[valid_idx] = part
        bag.append(answers_of(fitted, X_test, task))
    assert oof is not None
    return oof, np.mean(bag, axis=0)


def selected(
    levels: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]], *, run: Any, data: Any,
    target_test: np.ndarray[Any, Any],
) -> dict[str, Any]:  # fmt: skip
    """Ensemble selection over (out-of-fold, test) answers: its CV and test scores."""
    pool = [
        Candidate(trial=i, family="", params={}, answers=oof, refit_s=0.0)
        for i, (oof, _) in enumerate(levels)
    ]
    chosen = select_ensemble(pool, y=run.target, folds=run.folds, metric=data.metric,
                             task=data.task)  # fmt: skip
    assert chosen is not None
    test = sum(levels[m.trial][1] * m.weight for m in chosen.members)
    return {
        "cv": chosen.cv_mean,
        "test": score(data.metric, target_test, np.asarray(test)),
        "members": {str(m.trial): round(m.weight, 3) for m in chosen.members},
    }


def stack(
    run: Any, data: Any, bases: list[tuple[str, dict[str, Any]]],
    first: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]], *, stacked: int,
    target_test: np.ndarray[Any, Any],
) -> dict[str, Any]:  # fmt: skip
    X, y, X_test, _ = data.split()
    Z = features([oof for oof, _ in first], data.task)
    Z_test = features([test for _, test in first], data.task)
    extra = [f"__level1_{i}" for i in range(Z.shape[1])]
    P = pd.concat([X.reset_index(drop=True), pd.DataFrame(Z, columns=extra)], axis=1)
    P_test = pd.concat([X_test.reset_index(drop=True), pd.DataFrame(Z_test, columns=extra)], axis=1)
    refit_args = {**run.refit_args, "plan": plan_columns(P)}
    started = time.monotonic()
    second = [
        bagged(
            run,
            P,
            P_test,
            y.reset_index(drop=True),
            family=family,
            params=params,
            task=data.task,
            refit_args=refit_args,
        )
        for family, params in bases[:stacked]
    ]
    row = selected(first + second, run=run, data=data, target_test=target_test)
    row["s"] = round(time.monotonic() - started, 1)
    row["second_alone"] = [
        {"cv": score(data.metric, run.target, oof), "test": score(data.metric, target_test, t)}
        for oof, t in second
    ]
    return row


def one(
    data: Any, *, seed: int, budget: float, n_jobs: int, limit: int, stacked: int
) -> dict[str, Any]:
    X, y, X_test, y_test = data.split()
    run = run_search(data, seed=seed, budget=budget, n_jobs=n_jobs)
    model, result, target, folds = run.model, run.model.search_result_, run.target, run.folds
    if data.task == "regression":
        target_test = y_test.to_numpy(dtype=float)
    else:
        code = {label: i for i, label in enumerate(result.classes)}
        target_test = np.asarray([code[v] for v in y_test])
    bases = bases_of(result, limit)
    started = time.monotonic()
    oofs, tests = [], []
    for family, params in bases:
        oof, test = bagged(run, X, X_test, y, family=family, params=params, task=data.task,
                           refit_args=run.refit_args)  # fmt: skip
        oofs.append(oof)
        tests.append(test)
    bases_s = time.monotonic() - started
    shipped = answers_of(model.best_estimator_, X_test, data.task)
    row: dict[str, Any] = {
        "dataset": data.name, "seed": seed, "budget_s": budget,
        "chosen": model.best_family_, "bases": [family for family, _ in bases],
        "bases_s": round(bases_s, 1),
        "caruana": {"cv": model.best_score_, "test": score(data.metric, target_test, shipped)},
        "best_base": {
            "cv": max(score(data.metric, target, o) for o in oofs),
            "test": score(data.metric, target_test, tests[int(np.argmax(
                [score(data.metric, target, o) for o in oofs]))]),
        },
    }  # fmt: skip
    Z, Z_test = features(oofs, data.task), features(tests, data.task)
    raw, raw_test = as_categories(X, X_test)
    extra = [f"base_{i}" for i in range(Z.shape[1])]
    P = pd.concat([raw.reset_index(drop=True), pd.DataFrame(Z, columns=extra)], axis=1)
    P_test = pd.concat(
        [raw_test.reset_index(drop=True), pd.DataFrame(Z_test, columns=extra)], axis=1
    )
    for name, make, inputs in (
        ("linear", lambda: linear_level(data.task, seed), (Z, Z_test)),
        ("passthrough", lambda: passthrough_level(P, data.task, seed), (P, P_test)),
    ):
        started = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            oof, test = second_level(make, inputs, target=target, folds=folds, task=data.task)
        row[name] = {
            "cv": score(data.metric, target, oof),
            "test": score(data.metric, target_test, test),
            "s": round(time.monotonic() - started, 1),
        }
    first = list(zip(oofs, tests, strict=True))
    row["caruana_bag"] = selected(first, run=run, data=data, target_test=target_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["stack"] = stack(run, data, bases, first, stacked=stacked, target_test=target_test)
    return row


def main() -> None:
    parser = arguments(budget=300)
    parser.add_argument("--bases", type=int, default=8)
    parser.add_argument("--stacked", type=int, default=4)
    args = parser.parse_args()
    rows = []
    for data in load_suite(args.bench, args.datasets):
        for seed in args.seeds:
            row = one(data, seed=seed, budget=args.budget, n_jobs=args.n_jobs, limit=args.bases,
                      stacked=args.stacked)  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
            write_runs(args.out, rows)


if __name__ == "__main__":
    main()
