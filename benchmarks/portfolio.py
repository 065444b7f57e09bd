"""The evidence behind the warm-start portfolio (automl/portfolio.py, docs/search.md section 1).

Cross-validates every configuration of ``automl.portfolio.CANDIDATES`` on every dataset of the
suite, through the search's own trial runner (same preprocessing, folds and scorer), then
chooses the portfolio greedily: each step adds the configuration that most raises the mean,
over datasets, of the best normalised score so far (0 = the median candidate on that dataset,
1 = the best). A leave-one-dataset-out check repeats the choice without each dataset and
measures the chosen portfolio's regret on the dataset left out.

    python benchmarks/portfolio.py ../shared/bench --cv 3 --out benchmarks/portfolio.json

``--add NAME...`` evaluates only those candidates (a family or configuration new since the last
run) and merges them into the evaluations already in ``--out`` before choosing again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Dataset, git_commit, load_suite, machine

from automl.families import FAMILIES, BuildContext
from automl.isolation import POOL, SearchData, TrialJob, run_isolated, write_search_data
from automl.labels import encode_classes
from automl.portfolio import CANDIDATES, Config
from automl.preprocess import plan_columns
from automl.search_setup import cv_folds

Scores = dict[str, dict[str, float | None]]  # dataset -> candidate -> CV mean (None: failed)


def evaluate(
    data: Dataset, *, cv: int, n_jobs: int, limit_s: float, only: set[str] | None = None
) -> dict[str, Any]:
    X, y, _, _ = data.split()
    X = X.reset_index(drop=True)
    task: Any = data.task
    if task == "regression":
        target, n_classes = y.to_numpy(dtype=float), 0
    else:
        classes, target = encode_classes(y)
        n_classes = len(classes)
    folds = cv_folds(target, task=task, cv=cv, seed=0)
    usable = [
        c for c in CANDIDATES
        if (only is None or c.name in only)
        and FAMILIES[c.family].skip_reason(n_rows=len(X), n_features=X.shape[1], task=task) is None
    ]  # fmt: skip
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.pkl"
        search = SearchData(X=X, y=target, folds=folds, plan=plan_columns(X), scorer=data.metric,
                            n_classes=n_classes)  # fmt: skip
        write_search_data(search, path)

        def one(config: Config) -> tuple[str, dict[str, Any]]:
            params = {k: v for k, v in config.for_task(task).items() if k != "family"}
            params = {k.split(".", 1)[1]: v for k, v in params.items()}
            job = TrialJob(path, FAMILIES[config.family], params,
                           BuildContext(task=task, seed=0, n_jobs=1))  # fmt: skip
            started = time.monotonic()
            outcome = run_isolated(job, deadline=started + limit_s, on_fold=lambda _: True)
            scores = [f.score for f in outcome.folds]
            ok = outcome.error is None and outcome.stopped is None and len(scores) == cv
            return config.name, {
                "cv_mean": float(np.mean(scores)) if ok else None,
                "seconds": round(time.monotonic() - started, 2),
                "error": outcome.error or outcome.stopped,
            }

        with ThreadPoolExecutor(n_jobs) as pool:
            for name, result in pool.map(one, usable):
                results[name] = result
                print(f"{data.name:>15} {name:>22} {result['cv_mean']} "
                      f"{result['seconds']:.1f}s", file=sys.stderr, flush=True)  # fmt: skip
    return results


def normalised(scores: Scores) -> dict[str, dict[str, float]]:
    """Per dataset: 0 for the median candidate (and anything worse or failed), 1 for the best."""
    out: dict[str, dict[str, float]] = {}
    for dataset, row in scores.items():
        values = [v for v in row.values() if v is not None]
        best, median = max(values), statistics.median(values)
        span = best - median or 1.0
        out[dataset] = {c: 0.0 if v is None else max(0.0, (v - median) / span)
                        for c, v in row.items()}  # fmt: skip
    return out


def greedy(norm: dict[str, dict[str, float]], size: int, cost: dict[str, float]) -> list[str]:
    names = sorted({c for row in norm.values() for c in row})
    chosen: list[str] = []
    for _ in range(min(size, len(names))):

        def gain(c: str) -> tuple[float, float]:
            value = np.mean([max(row.get(p, 0.0) for p in [*chosen, c]) for row in norm.values()])
            return float(value), -cost.get(c, 0.0)

        chosen.append(max((c for c in names if c not in chosen), key=gain))
    return chosen


def leave_one_out(scores: Scores, size: int, cost: dict[str, float]) -> dict[str, Any]:
    """For each dataset: the portfolio chosen without it, and its regret there."""
    out = {}
    for held in scores:
        rest = {d: row for d, row in scores.items() if d != held}
        chosen = greedy(normalised(rest), size, cost)
        row = scores[held]
        best = max(v for v in row.values() if v is not None)
        reached = [v for c in chosen if (v := row.get(c)) is not None]
        got = max(reached) if reached else None
        out[held] = {
            "portfolio": chosen,  # in queue order
            "best_candidate": best,
            "portfolio_best": got,
            "regret_pct": None if got is None else round(100 * (best - got) / abs(best), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("bench", type=Path, help="the public suite folder (suites.json inside)")
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--size", type=int, default=6, help="configurations in the portfolio")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--limit-s", type=float, default=120.0, help="per configuration")
    parser.add_argument("--datasets", nargs="*")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/portfolio.json"))
    parser.add_argument("--add", nargs="*", help="evaluate only these; merge into --out's")
    args = parser.parse_args()

    POOL.warm_up(args.n_jobs, None)
    only = set(args.add) if args.add else None
    evaluations = {d.name: evaluate(d, cv=args.cv, n_jobs=args.n_jobs, limit_s=args.limit_s,
                                    only=only)
                   for d in load_suite(args.bench, args.datasets)}  # fmt: skip
    provenance = {"machine": machine(), "commit": git_commit()}
    added: list[dict[str, Any]] = []
    if only is not None:
        earlier = json.loads(args.out.read_text())
        # Every dataset of the earlier run stays, whether or not this run measured it.
        merged = {d: dict(row) for d, row in earlier["evaluations"].items()}
        for dataset, row in evaluations.items():
            merged.setdefault(dataset, {}).update(row)
        evaluations = merged
        # The earlier candidates were measured where and when the earlier run says.
        added = [*earlier.get("added", []), {"candidates": sorted(only), **provenance}]
        provenance = {"machine": earlier["machine"], "commit": earlier["commit"]}
    scores: Scores = {d: {c: r["cv_mean"] for c, r in row.items()}
                      for d, row in evaluations.items()}  # fmt: skip
    cost = {c.name: float(np.mean([row[c.name]["seconds"] for row in evaluations.values()
                                   if c.name in row])) for c in CANDIDATES}  # fmt: skip
    # Chosen by what they add; queued cheapest first, so that a short budget gets through
    # most of them (a slow configuration first can take a whole short budget's worker).
    chosen = sorted(greedy(normalised(scores), args.size, cost), key=lambda c: cost[c])
    report = {
        **provenance,
        "added": added,
        "cv": args.cv,
        "evaluations": evaluations,
        "normalised": normalised(scores),
        "mean_seconds": cost,
        "portfolio": chosen,  # in queue order
        "leave_one_out": leave_one_out(scores, args.size, cost),
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("portfolio:", chosen)


if __name__ == "__main__":
    main()
