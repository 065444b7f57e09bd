"""Trial worker processes: they do not outlive a parent that was killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# A parent that starts one trial of a family whose fit sleeps for a minute.
PARENT = """
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from automl.families import BuildContext
from automl.isolation import SearchData, TrialJob, run_isolated, write_search_data
from automl.preprocess import plan_columns
from automl.search_setup import cv_folds
from tests.automl.plugin_families import Sleepy

X = pd.DataFrame({"a": np.arange(60.0)})
y = np.arange(60) % 2
path = Path(tempfile.mkdtemp()) / "data.pkl"
folds = cv_folds(y, task="binary", cv=3, seed=0)
data = SearchData(X=X, y=y, folds=folds, plan=plan_columns(X), scorer="roc_auc", n_classes=2)
write_search_data(data, path)
job = TrialJob(data_path=path, family=Sleepy(), params={"knob": 0.5},
               context=BuildContext(task="binary", seed=0))
print("started", flush=True)
run_isolated(job, deadline=None, on_fold=lambda result: True, memory_limit_mb=None)
"""


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_busy_worker_exits_soon_after_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while not _children(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        (worker,) = _children(parent.pid)
        time.sleep(3)  # the worker imports, takes the trial and is asleep in the fit
        assert _running(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        gone_by = time.monotonic() + 10
        while _running(worker) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert not _running(worker), "the trial worker outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(timeout=10)
