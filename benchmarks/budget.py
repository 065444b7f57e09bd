"""Is the time budget honoured? Wall time of ``fit`` (search + refit) against ``time_budget_s``
on every dataset of the public suite, with the test score beside an untuned
HistGradientBoosting.

    python benchmarks/budget.py ../shared/bench --budgets 30 60 --n-jobs 2 \
        --out benchmarks/budget.json

Target: fit wall time <= 1.1 x time_budget_s on every dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import get_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Dataset, as_categories, git_commit, load_suite, machine

from automl import AutoMLClassifier, AutoMLRegressor


def untuned_hgb(data: Dataset) -> float:
    """The reference: scikit-learn's HistGradientBoosting with its defaults."""
    X, y, X_test, y_test = data.split()
    cls = (
        HistGradientBoostingRegressor
        if data.task == "regression"
        else HistGradientBoostingClassifier
    )
    model = cls(categorical_features="from_dtype", random_state=0)
    X, X_test = as_categories(X, X_test)
    model.fit(X, y)
    return float(get_scorer(data.metric)(model, X_test, y_test))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("bench", type=Path, help="the public suite folder (suites.json inside)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="*")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/budget.json"))
    args = parser.parse_args()

    rows = []
    for data in load_suite(args.bench, args.datasets):
        X, y, X_test, y_test = data.split()
        baseline = untuned_hgb(data)
        for budget in args.budgets:
            cls = AutoMLRegressor if data.task == "regression" else AutoMLClassifier
            model = cls(
                metric=data.metric, time_budget_s=budget, n_jobs=args.n_jobs, seed=args.seed
            )
            started = time.monotonic()
            model.fit(X, y)
            wall = time.monotonic() - started
            score = float(get_scorer(data.metric)(model, X_test, y_test))
            board = model.leaderboard_
            row = {
                "dataset": data.name,
                "budget_s": budget,
                "wall_s": round(wall, 2),
                "ratio": round(wall / budget, 3),
                "refit_s": round(model.refit_time_s_, 2),
                "trials": int(board["trial"].notna().sum()),
                "complete": int((board.state == "COMPLETE").sum()),
                "best_family": model.best_family_,
                "metric": data.metric,
                "test_score": round(score, 5),
                "untuned_hgb": round(baseline, 5),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.write_text(
        json.dumps({"machine": machine(), "commit": git_commit(), "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
