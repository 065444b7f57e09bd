"""Scale-out (issue 10): completed trials per minute with 1 and 2 search processes sharing a
study on PostgreSQL, and what each trial costs in the storage (in memory, SQLite, PostgreSQL).

    python benchmarks/distributed.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test \
        --trials 40 --out benchmarks/distributed.json

Throughput: the demo data, a family whose every trial costs the same CPU time
(fixed_cost_family.py: 150 boosting rounds, 3 folds, one thread each), ``--trials`` trials in
total. One process is the coordinator alone (``n_jobs=1``); two processes are the coordinator
and one ``worker`` (``n_jobs=1`` each), as ``automl worker`` runs it. The rate is complete
trials over the span from the first trial's start to the last one's end (process start-up
excluded). Target: at least 1.7 x with two processes on two cores.

Storage overhead: ``--overhead-trials`` trials of an objective that does nothing, with Optuna's
random sampler (so the time is the storage's, not TPE's), per storage as the search opens it
(PostgreSQL with heartbeats and the quota check).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# Trial workers (and the spawned search worker) import the fixed-cost family from here.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))

import fixed_cost_family  # noqa: E402, F401 (registers the family)
import optuna  # noqa: E402
from common import git_commit, machine  # noqa: E402

from automl.config import DataParams, PrepareParams, SearchParams, SplitParams  # noqa: E402
from automl.data import load_demo, prepare_dataset  # noqa: E402
from automl.search import run_search, run_worker_trials  # noqa: E402
from automl.worker import wait_until_open  # noqa: E402


def _data() -> tuple[Any, Any]:
    prepared = prepare_dataset(
        load_demo(), data=DataParams(target="Status"), prepare=PrepareParams(), split=SplitParams()
    )
    return prepared.train.drop(columns="Status"), prepared.train["Status"]


def _settings(pg: str, name: str, trials: int) -> SearchParams:
    return SearchParams(
        time_budget_s=None, n_trials=trials, n_jobs=1, seed=0, storage=pg, study_name=name,
        families=["bench_fixed_cost"], shared=True, portfolio=False, pruning=False,
        ensemble=False,
    )  # fmt: skip


def _worker(pg: str, name: str, trials: int) -> None:
    X, y = _data()
    wait_until_open(pg, name, 120)
    run_worker_trials(X, y, task="binary", settings=_settings(pg, name, trials), cv=3)


def throughput(pg: str, processes: int, trials: int) -> dict[str, Any]:
    name = f"bench-distributed-{uuid.uuid4().hex[:8]}"
    X, y = _data()
    ctx = multiprocessing.get_context("spawn")
    others = [ctx.Process(target=_worker, args=(pg, name, trials)) for _ in range(processes - 1)]
    for other in others:
        other.start()
    run_search(X, y, task="binary", settings=_settings(pg, name, trials), cv=3, role="coordinator")
    for other in others:
        other.join(300)
    done = [
        t
        for t in optuna.load_study(study_name=name, storage=pg).get_trials()
        if t.state.name == "COMPLETE"
    ]
    start = min(t.datetime_start for t in done if t.datetime_start is not None)
    end = max(t.datetime_complete for t in done if t.datetime_complete is not None)
    span = (end - start).total_seconds()
    # Steady state: while every process runs trials (a worker starts a few seconds after the
    # coordinator, and the last trials finish one by one as the quota runs out).
    by_process: dict[str, list[Any]] = {}
    for t in done:
        by_process.setdefault(str(t.user_attrs.get("worker")), []).append(t)
    both_from = max(min(t.datetime_start for t in ts) for ts in by_process.values())
    both_until = min(max(t.datetime_complete for t in ts) for ts in by_process.values())
    window = (both_until - both_from).total_seconds()
    inside = sum(both_from < t.datetime_complete <= both_until for t in done)
    return {
        "processes": processes,
        "complete": len(done),
        "span_s": round(span, 2),
        "trials_per_min": round(60 * len(done) / span, 2),
        "steady_window_s": round(window, 2),
        "steady_trials_per_min": round(60 * inside / window, 2),
    }


def overhead(storage: Any, label: str, trials: int) -> dict[str, Any]:
    study = optuna.create_study(
        storage=storage, study_name=f"bench-overhead-{uuid.uuid4().hex[:8]}",
        sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize",
    )  # fmt: skip
    started = time.perf_counter()
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=trials)
    per_trial = (time.perf_counter() - started) / trials
    return {"storage": label, "trials": trials, "ms_per_trial": round(1000 * per_trial, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", required=True, help="a PostgreSQL URL (no password)")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--overhead-trials", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "distributed.json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from automl.study import Heartbeat, _storage

    one = throughput(args.pg, 1, args.trials)
    two = throughput(args.pg, 2, args.trials)
    with_tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-overhead-{uuid.uuid4().hex}.db"
    costs = [
        overhead(None, "in memory", args.overhead_trials),
        overhead(_storage(f"sqlite:///{with_tmp}", Heartbeat()), "SQLite", args.overhead_trials),
        overhead(_storage(args.pg, Heartbeat()), "PostgreSQL", args.overhead_trials),
    ]
    with_tmp.unlink(missing_ok=True)
    result = {
        "throughput": [one, two],
        "speedup": round(two["trials_per_min"] / one["trials_per_min"], 2),
        "steady_speedup": round(two["steady_trials_per_min"] / one["steady_trials_per_min"], 2),
        "storage_overhead": costs,
        "machine": machine(),
        "commit": git_commit(),
        "command": "python benchmarks/distributed.py " + " ".join(sys.argv[1:]),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
