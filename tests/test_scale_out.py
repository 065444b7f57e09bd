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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from automl.shared_study import used_trials
from tests.conftest import PG_URL, REPO_ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("optuna_schema")]

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


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases: the study and the audit log, and the MLflow server's
    (Optuna and MLflow both keep an alembic_version table, so they cannot share one)."""
    import psycopg

    names = [f"scale_{uuid.uuid4().hex[:8]}", f"scale_mlflow_{uuid.uuid4().hex[:8]}"]
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_URL.rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_workers_share_an_mlflow_server_and_the_audit_log_on_postgresql(
    tmp_path: Path, write_params: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch,
    databases: tuple[str, str],
) -> None:  # fmt: skip
    """Three processes log their trials concurrently to one MLflow server (PostgreSQL backend,
    artifacts on governed://) and read the sealed data through one audit log on PostgreSQL:
    every trial is a run under the one search run, and the audit chain verifies."""
    from tests.automl.tracking.test_mlflow_server import _start_server

    database, mlflow_database = databases
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVERNANCE_AUDIT", database)
    server = _start_server(
        mlflow_database, tmp_path, artifacts="governed:///mlflow-server", audit=database
    )
    uri = next(server)
    try:
        write_params(
            split={"cv_folds": 3},
            tracking={"enabled": True, "uri": uri, "experiment": "scale-out"},
            governance={"audit": database},
            search={
                "storage": database, "study_name": "shared", "shared": True, "n_trials": 18,
                "time_budget_s": None, "families": ["linear", "test_slow"], "n_jobs": 1,
                "portfolio": False, "pruning": False, "ensemble": True,
            },
        )  # fmt: skip
        _prepare(tmp_path, run_cli)
        processes = [_start(tmp_path, *SEARCH)] + [
            _start(tmp_path, "worker", "--wait-s", "90") for _ in range(2)
        ]
        try:
            for process in processes:
                output, _ = process.communicate(timeout=240)
                assert process.returncode == 0, output
        finally:
            for process in processes:
                process.kill()
                process.wait(timeout=10)
        best = json.loads((tmp_path / "results/search/best_params.json").read_text())
        parent = best["mlflow_run_id"]
        study = optuna.load_study(study_name=best["study_name"], storage=database)
        finished = [t for t in study.get_trials() if t.state.is_finished()]
        assert len(finished) == 18
        tags = [{t["key"]: t["value"] for t in r["data"]["tags"]} for r in _child_runs(uri, parent)]
        numbers = sorted(int(t["automl.trial"]) for t in tags)
        assert numbers == sorted(t.number for t in finished)  # none lost, none twice
        assert len({t.get("automl.worker") for t in tags}) == 3
    finally:
        server.close()

    from governance.audit import AuditLog
    from governance.audit_pg import PostgresAuditBackend
    from governance.keys import LocalKeyring
    from tests.conftest import TEST_KEYRING

    log = AuditLog(PostgresAuditBackend(database), keys=LocalKeyring(TEST_KEYRING).audit_keys())
    report = log.verify()
    assert report.ok, report.summary()
    actions = [e.action for e in log.entries()]
    # The coordinator and both workers read the sealed training split; artifacts were sealed.
    assert actions.count("get") >= 3 and "put" in actions


def _child_runs(uri: str, parent: str) -> list[dict[str, Any]]:
    import requests

    experiment = requests.get(
        f"{uri}/api/2.0/mlflow/runs/get", params={"run_id": parent}, timeout=30
    ).json()["run"]["info"]["experiment_id"]
    runs: list[dict[str, Any]] = []
    token = None
    while True:
        body: dict[str, Any] = {
            "experiment_ids": [experiment],
            "filter": f"tags.mlflow.parentRunId = '{parent}'",
            "max_results": 1000,
        }
        if token:
            body["page_token"] = token
        page = requests.post(f"{uri}/api/2.0/mlflow/runs/search", json=body, timeout=30).json()
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            return runs


def test_a_worker_refuses_what_it_cannot_join(
    tmp_path: Path, write_params: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    prefix = f"refuse-{uuid.uuid4().hex[:8]}"
    write_params(search={"storage": PG_URL, "study_name": prefix, "n_trials": 5})
    _prepare(tmp_path, run_cli)

    local = run_cli("automl", "worker", "--storage", "sqlite:///optuna.db")
    assert local.code == 2
    assert "needs the coordinator's storage on a database server" in local.err

    other = run_cli("automl", "worker", "--study", "credit-0123456789ab")
    assert other.code == 3
    assert "was not made on this data and these search settings" in other.err
    assert "dvc pull" in other.err

    secret = run_cli("automl", "worker", "--storage", "postgresql://u:hunter2@127.0.0.1/test")
    assert secret.code == 2 and "hunter2" not in secret.err + secret.out

    alone = run_cli("automl", "worker", "--wait-s", "0")
    assert alone.code == 1
    assert f"no open study {prefix}-" in alone.err and "--wait-s" in alone.err
