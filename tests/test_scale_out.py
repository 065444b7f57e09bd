"""Scale-out on the real PostgreSQL: a coordinator (the search stage with search.shared) and
``automl worker`` processes share one study; a worker killed mid-trial does not stall it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import optuna
import pytest

from automl.shared_study import used_trials
from tests.conftest import PG_URL, REPO_ROOT

pytestmark = pytest.mark.postgres

AUTOML = str(Path(sys.executable).with_name("automl"))
PLUGIN = ("--plugin", "tests.automl.plugin_register")
SEARCH = (
    "stage", "search", "--params", "params.yaml", "--train", "data/prepared/train.parquet",
    "--checks", "data/prepared/checks.json", "--leaderboard", "results/search/leaderboard.csv",
    "--best", "results/search/best_params.json", "--summary", "results/search/summary.json",
)  # fmt: skip


def _prepare(project: Path, run_cli: Any) -> None:
    for args in (
        ("stage", "ingest", "--out", "data/ingested/dataset.parquet",
         "--profile", "data/ingested/profile.json"),
        ("stage", "prepare", "--data", "data/ingested/dataset.parquet",
         "--train", "data/prepared/train.parquet", "--test", "data/prepared/test.parquet",
         "--report", "data/prepared/checks.json"),
    ):  # fmt: skip
        result = run_cli("automl", *PLUGIN, *args, "--params", str(project / "params.yaml"))
        assert result.code == 0, result.err


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    # Trial workers unpickle the test families, so the repository must be importable.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [AUTOML, *PLUGIN, *args], cwd=project, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _study(prefix: str, timeout_s: float = 90) -> optuna.Study:
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        names = [n for n in optuna.get_all_study_names(PG_URL) if n.startswith(f"{prefix}-")]
        if names:
            return optuna.load_study(study_name=names[0], storage=PG_URL)
        time.sleep(0.2)
    raise AssertionError(f"the coordinator never created a study {prefix}-*")


def _running_trial_of(study: optuna.Study, pid: int, timeout_s: float = 90) -> int:
    worker = f"{socket.gethostname()}:{pid}"
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if trial.user_attrs.get("worker") == worker:
                return trial.number
        time.sleep(0.1)
    raise AssertionError(f"worker {worker} never ran a trial")


def test_a_worker_killed_mid_trial_is_retried_and_the_study_completes(
    tmp_path: Path, write_params: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    write_params(
        split={"cv_folds": 3},
        search={
            "storage": PG_URL, "study_name": prefix, "shared": True, "n_trials": 12,
            "time_budget_s": None, "families": ["test_slow"], "n_jobs": 1,
            "portfolio": False, "pruning": False, "ensemble": False,
            "heartbeat_interval_s": 1, "heartbeat_grace_s": 3, "max_retry": 2,
        },
    )  # fmt: skip
    _prepare(tmp_path, run_cli)
    coordinator = _start(tmp_path, *SEARCH)
    doomed = _start(tmp_path, "worker", "--wait-s", "90")
    survivor = _start(tmp_path, "worker", "--wait-s", "90")
    try:
        study = _study(prefix)
        killed = _running_trial_of(study, doomed.pid)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        for process in (coordinator, survivor):
            output, _ = process.communicate(timeout=180)
            assert process.returncode == 0, output
    finally:
        for process in (coordinator, doomed, survivor):
            process.kill()
            process.wait(timeout=10)

    trials = optuna.load_study(study_name=study.study_name, storage=PG_URL).get_trials()
    states = {t.number: t.state.name for t in trials}
    assert states[killed] == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
    assert retries[0].params == trials[killed].params
    # Exactly the total asked for: twelve trials, the retry in the dead one's place.
    assert used_trials(study) == 12 and len(trials) == 13
    assert sorted(states.values()).count("COMPLETE") == 12
    workers = {t.user_attrs.get("worker") for t in trials}
    assert len(workers) == 3  # the coordinator and both workers ran trials
    best = json.loads((tmp_path / "results/search/best_params.json").read_text())
    assert best["family"] == "test_slow" and best["study_name"] == study.study_name
