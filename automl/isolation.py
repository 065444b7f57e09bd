"""Runs trials' cross-validation in worker processes, under deadlines.

A separate process is the only way to stop a fit that runs past its time (scikit-learn cannot be
interrupted) and to survive one that exhausts memory or crashes the interpreter. Workers are
started once (``python -m automl._trial_worker``, which imports the libraries once) and reused
across trials and searches. A worker reports each fold's score as soon as it has it and waits
for the go-ahead, so the parent prunes a bad trial after its first folds without killing
anything. Only a trial that overruns its deadline, or a worker that dies, costs a restart.

Workers never fork, so no child inherits OpenMP state (forking after OpenMP ran can hang
LightGBM and XGBoost), and nothing re-imports the caller's ``__main__``.
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.families.base import BuildContext, Family
from automl.predictions import fold_predictions, score_predictions
from automl.preprocess import ColumnPlan, build_pipeline

# How often a running trial asks a deadline that can move whether it has moved.
DEADLINE_RECHECK_S = 0.5
# A trial's deadline: a time.monotonic() value, a function giving it (it can move), or none.
Deadline = float | Callable[[], float | None] | None
# How long a new worker may take to import its libraries and say it is ready.
_STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class SearchData:
    """What every trial of a search shares: written once, read once by each worker."""

    X: pd.DataFrame
    y: np.ndarray[Any, Any]
    folds: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]
    plan: ColumnPlan
    scorer: str
    n_classes: int = 0  # 0 for regression


@dataclass(frozen=True)
class TrialJob:
    data_path: Path
    family: Family
    params: dict[str, Any]
    context: BuildContext


@dataclass(frozen=True)
class FoldResult:
    fold: int
    score: float
    fit_time_s: float
    predict_time_s: float
    # The fold's validation rows as the model answered them: class probabilities (one column
    # per class) or regression values. Ensemble selection works on these.
    predictions: np.ndarray[Any, Any] | None = None
    # Boosting rounds the fold's model kept when it stopped early; None otherwise.
    rounds: int | None = None


@dataclass
class TrialOutcome:
    folds: list[FoldResult] = field(default_factory=list)
    error: str | None = None
    stopped: str | None = None  # "pruned" or "time"


def write_search_data(data: SearchData, path: Path) -> None:
    with path.open("wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)


# --------------------------------------------------------------------------------------------
# parent side


class _Worker:
    def __init__(self, memory_limit_mb: int | None) -> None:
        self.memory_limit_mb = memory_limit_mb
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        # Kept open for the worker's life: its stderr, read back if it dies.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        argv = [sys.executable, "-m", "automl._trial_worker", str(to_worker_r), str(from_worker_w)]
        if memory_limit_mb is not None:
            argv.append(str(memory_limit_mb))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.process = subprocess.Popen(
            argv,
            pass_fds=(to_worker_r, from_worker_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
            start_new_session=True,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.send = Connection(to_worker_w, readable=False)
        self.recv = Connection(from_worker_r, writable=False)
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.recv.poll(_STARTUP_TIMEOUT_S):
            self.kill()
            raise RuntimeError("a trial worker did not start within two minutes")
        try:
            message = self.recv.recv()
        except EOFError:
            raise RuntimeError(f"a trial worker failed to start: {self.death_reason()}") from None
        assert message == ("ready",)
        self.ready = True

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        for conn in (self.send, self.recv):
            conn.close()
        self.log.close()

    def death_reason(self) -> str:
        code = self.process.wait(timeout=30)
        if code < 0:
            name = signal.Signals(-code).name
            likely = ": most likely out of memory" if -code == signal.SIGKILL else ""
            return f"the trial process was killed by {name}{likely}"
        self.log.seek(0)
        lines = self.log.read().decode(errors="replace").strip().splitlines()
        tail = f" ({lines[-1][:200]})" if lines else ""
        return f"the trial process exited with code {code}{tail}"


class WorkerPool:
    """Idle workers, reused across trials and searches; one per concurrent trial."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def acquire(self, memory_limit_mb: int | None) -> _Worker:
        with self._lock:
            for worker in self._idle:
                if worker.memory_limit_mb == memory_limit_mb and worker.alive():
                    self._idle.remove(worker)
                    return worker
        return _Worker(memory_limit_mb)

    def release(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def warm_up(self, count: int, memory_limit_mb: int | None) -> None:
        """Start ``count`` workers in parallel, so a search does not wait on them one by one."""
        workers = [self.acquire(memory_limit_mb) for _ in range(count)]
        for worker in workers:
            worker.wait_ready()
            self.release(worker)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


POOL = WorkerPool()
atexit.register(POOL.close)


def run_isolated(
    job: TrialJob,
    *,
    deadline: Deadline,
    on_fold: Callable[[FoldResult], bool],
    memory_limit_mb: int | None = None,
) -> TrialOutcome:
    """Run ``job`` in a worker; ``on_fold`` returns False to stop after that fold (pruning).

    ``deadline`` is a ``time.monotonic()`` value, or a function giving it, asked again at least
    every ``DEADLINE_RECHECK_S`` (a deadline that can move earlier); past it the worker is
    killed.
    """
    outcome = TrialOutcome()
    worker = POOL.acquire(memory_limit_mb)
    healthy = False
    try:
        worker.wait_ready()
        worker.send.send(("trial", job))
        while True:
            if not _wait_for_message(worker.recv, deadline):
                outcome.stopped = "time"
                break
            try:
                message = worker.recv.recv()
            except EOFError:
                outcome.error = worker.death_reason()
                break
            kind = message[0]
            if kind == "fold":
                result = FoldResult(*message[1:])
                outcome.folds.append(result)
                go_on = on_fold(result)
                worker.send.send(("go",) if go_on else ("stop",))
                if not go_on:
                    outcome.stopped = "pruned"
            elif kind == "error":
                outcome.error = message[1]
                healthy = message[2]
                break
            else:  # "done"
                healthy = True
                break
    except (BrokenPipeError, ConnectionResetError, EOFError):
        outcome.error = worker.death_reason()
    finally:
        if healthy:
            POOL.release(worker)
        else:
            worker.kill()
    return outcome


def _wait_for_message(recv: Connection, deadline: Deadline) -> bool:
    """Whether a message came before the deadline (asked again while waiting if it can move)."""
    while True:
        limit = deadline() if callable(deadline) else deadline
        timeout = None if limit is None else max(0.0, limit - time.monotonic())
        if callable(deadline):
            # A function without a deadline now may have one later: keep asking.
            timeout = DEADLINE_RECHECK_S if timeout is None else min(timeout, DEADLINE_RECHECK_S)
        if recv.poll(timeout):
            return True
        if limit is not None and time.monotonic() >= limit:
            return False


# --------------------------------------------------------------------------------------------
# worker side


class _DataCache:
    def __init__(self) -> None:
        self.path: Path | None = None
        self.data: SearchData | None = None

    def load(self, path: Path) -> SearchData:
        if self.path != path or self.data is None:
            with path.open("rb") as fh:
                self.data = pickle.load(fh)  # written by our own parent process
            self.path = path
        return self.data


def serve(receive: Connection, send: Connection) -> None:
    """The worker's loop: run trials until the parent goes away."""
    from threadpoolctl import threadpool_limits

    cache = _DataCache()
    send.send(("ready",))
    while True:
        try:
            message = receive.recv()
        except (EOFError, OSError):
            return
        job: TrialJob = message[1]
        try:
            data = cache.load(job.data_path)
            with threadpool_limits(job.context.n_jobs), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if not _run_folds(job, data, receive, send):
                    continue
            send.send(("done",))
        except MemoryError:
            cache.data = None
            # A worker that ran out of memory is not trusted with the next trial.
            send.send(("error", "out of memory (MemoryError)", False))
        except Exception as exc:
            send.send(("error", describe_exception(exc), True))


def _run_folds(job: TrialJob, data: SearchData, receive: Connection, send: Connection) -> bool:
    """Fit and score fold by fold; False when the parent said stop or a score was not finite."""
    for k, (train, valid) in enumerate(data.folds):
        pipeline = build_pipeline(data.plan, job.family, job.params, job.context)
        start = time.perf_counter()
        pipeline.fit(data.X.iloc[train], data.y[train])
        fitted = time.perf_counter()
        answers = fold_predictions(pipeline, data.X.iloc[valid], task=job.context.task,
                                   n_classes=data.n_classes)  # fmt: skip
        if not np.isfinite(answers).all():
            bad = int(np.size(answers) - np.isfinite(answers).sum())
            send.send(("error", f"the predictions on fold {k + 1} hold {bad} values that are "
                       "not finite numbers (NaN or infinity)", True))  # fmt: skip
            return False
        score = score_predictions(data.scorer, data.y[valid], answers, task=job.context.task)
        scored = time.perf_counter()
        if not math.isfinite(score):
            send.send(("error", f"the score on fold {k + 1} is {score}, not a number", True))
            return False
        model = pipeline.steps[-1][1]
        # Through a target transform (TransformedTargetRegressor) to the model it fitted.
        rounds = getattr(getattr(model, "regressor_", model), "rounds_", None)
        send.send(("fold", k, score, fitted - start, scored - fitted, answers, rounds))
        if receive.recv() == ("stop",):
            send.send(("done",))
            return False
    return True


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, short enough for a leaderboard cell."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
