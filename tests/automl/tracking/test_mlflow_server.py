"""A whole pipeline logged to a real ``mlflow server`` (SQLite and PostgreSQL backends),
checked through MLflow's REST API as the UI and other tools see it."""

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

import pytest
import requests
import yaml

from automl.dossier import Inputs
from automl.stages import evaluate, ingest, monitor, prepare, register, report, search, train
from automl.tracking import TrackingError
from governance.audit import AuditLog
from governance.audit_file import FileAuditBackend
from tests.conftest import (
    PG_URL,
    TEST_AUDIT,
    TEST_KEYRING,
    TEST_STORE,
    base_params,
    read_dataset,
)

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    backend: str, workdir: Path, *, artifacts: str | None = None, audit: str | None = None
) -> Iterator[str]:
    port = _free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(mlflow), "server", "--backend-store-uri", backend,
            "--artifacts-destination", artifacts or (workdir / "artifacts").as_uri(),
            "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        # The server has the plugin (installed with the package) and the keys: the UI's
        # artifact view opens sealed artifacts.
        env={
            **os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "GOVERNANCE_STORE": str(TEST_STORE), "GOVERNANCE_KEYRING": str(TEST_KEYRING),
            "GOVERNANCE_AUDIT": audit or str(TEST_AUDIT),
        },
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start")
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited: {(workdir / 'server.log').read_text()[-2000:]}")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("mlflow-sqlite")
    yield from _start_server(f"sqlite:///{workdir / 'mlflow.db'}", workdir)


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import psycopg

    name = f"mlflow_test_{uuid.uuid4().hex[:8]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    workdir = tmp_path_factory.mktemp("mlflow-postgres")
    try:
        backend = PG_URL.rsplit("/", 1)[0] + f"/{name}"
        yield from _start_server(backend, workdir)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_pipeline(root: Path, uri: str, experiment: str) -> dict[str, Any]:
    params = base_params(
        search={
            "time_budget_s": None, "n_trials": 6, "families": ["linear", "lightgbm"],
            "storage": f"sqlite:///{root / 'optuna.db'}", "n_jobs": 1,
        },
        tracking={
            "enabled": True, "uri": uri, "experiment": experiment,
            "registered_model": experiment,
        },
    )  # fmt: skip
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    ingest.run(params_path=path, data_out=root / "d.parquet", profile_out=root / "p.json")
    prepare.run(
        params_path=path, data_in=root / "d.parquet", train_out=root / "train.parquet",
        test_out=root / "test.parquet", report_out=root / "checks.json", show_progress=False,
    )  # fmt: skip
    search.run(
        params_path=path, train_in=root / "train.parquet", checks_in=root / "checks.json",
        leaderboard_out=root / "lb.csv", best_out=root / "best.json",
        summary_out=root / "summary.json",
    )  # fmt: skip
    trained = train.run(
        params_path=path, train_in=root / "train.parquet", checks_in=root / "checks.json",
        best_in=root / "best.json", model_out=root / "model.pkl",
        summary_out=root / "train.json",
    )  # fmt: skip
    report = evaluate.run(
        params_path=path, test_in=root / "test.parquet", checks_in=root / "checks.json",
        model_in=root / "model.pkl", best_in=root / "best.json",
        train_summary_in=root / "train.json", metrics_out=root / "metrics.json",
        fairness_out=root / "fairness.json", plots_out=root / "plots",
        figures_out=root / "figures", show_progress=False,
    )  # fmt: skip
    # A new batch from a CSV file named in params.yaml, checked and logged to the model's run.
    read_dataset(root / "test.parquet").to_csv(root / "batch.csv", index=False)
    params["monitor"] = {
        "current": {"type": "csv", "path": str(root / "batch.csv")},
        "workspace": str(root / "evidently"),
    }
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    monitored = monitor.run(
        params_path=path, train_in=root / "train.parquet", test_in=root / "test.parquet",
        checks_in=root / "checks.json", model_in=root / "model.pkl",
        train_summary_in=root / "train.json", summary_out=root / "monitor.json",
        report_out=root / "monitor.html", report_json_out=root / "monitor-report.json",
    )  # fmt: skip
    registered = register.run(
        params_path=path,
        inputs=Inputs(
            params=path, checks=root / "checks.json", profile=root / "p.json",
            search_summary=root / "summary.json", best=root / "best.json",
            leaderboard=root / "lb.csv", train_summary=root / "train.json",
            metrics=root / "metrics.json", fairness=root / "fairness.json",
            importances=root / "plots" / "importances.csv", figures=root / "figures",
            monitor_summary=root / "monitor.json", monitor_report=root / "monitor.html",
            lock=root / "dvc.lock",
        ),
        model_in=root / "model.pkl", summary_out=root / "registered.json",
    )  # fmt: skip
    return {"train": trained, "evaluate": report, "monitor": monitored.summary,
            "register": registered}  # fmt: skip


def api(url: str, endpoint: str, **payload: Any) -> dict[str, Any]:
    if payload.pop("get", False):
        response = requests.get(f"{url}/api/2.0/mlflow/{endpoint}", params=payload, timeout=30)
    else:
        response = requests.post(f"{url}/api/2.0/mlflow/{endpoint}", json=payload, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("backend", ["sqlite_server", "postgres_server"])
def test_a_pipeline_lands_completely_in_the_tracking_server(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    url = request.getfixturevalue(backend)
    monkeypatch.chdir(tmp_path)
    experiment = f"exp-{backend}-{uuid.uuid4().hex[:6]}"
    outcome = run_pipeline(tmp_path, url, experiment)

    exp_id = api(url, "experiments/get-by-name", get=True, experiment_name=experiment)[
        "experiment"
    ]["experiment_id"]
    parents = api(
        url, "runs/search", experiment_ids=[exp_id],
        filter="tags.`automl.kind` = 'search'",
    )["runs"]  # fmt: skip
    assert len(parents) == 1
    parent = parents[0]
    run_id = parent["info"]["run_id"]
    params = {p["key"]: p["value"] for p in parent["data"]["params"]}
    assert params["search.n_trials"] == "6"
    assert params["split.test_size"] == "0.2"
    metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
    assert {"best_cv_score", "trials_complete", "test_roc_auc", "cv_test_gap"} <= set(metrics)
    assert metrics["test_roc_auc"] == pytest.approx(outcome["evaluate"]["roc_auc"])
    dataset = parent["inputs"]["dataset_inputs"][0]["dataset"]
    assert dataset["name"] == "Status train"
    assert dataset["digest"]
    assert "train.parquet" in dataset["source"]
    assert "Income" in dataset["schema"]

    children = api(
        url, "runs/search", experiment_ids=[exp_id],
        filter=f"tags.mlflow.parentRunId = '{run_id}'", max_results=100,
    )["runs"]  # fmt: skip
    assert len(children) == 6
    for child in children:
        tags = {t["key"]: t["value"] for t in child["data"]["tags"]}
        child_params = {p["key"]: p["value"] for p in child["data"]["params"]}
        child_metrics = {m["key"]: m["value"] for m in child["data"]["metrics"]}
        family = tags["automl.family"]
        assert child_params["family"] == family
        assert any(k.startswith(f"{family}.") for k in child_params)
        assert {"fit_time_s", "predict_time_s"} <= set(child_metrics)
        if tags["automl.state"] == "COMPLETE":
            assert {"cv_mean", "cv_std", "cv_fold_1", "cv_fold_5"} <= set(child_metrics)
        else:
            assert tags["automl.reason"]

    # The ensemble, when the search chose one: its score on the search run, each member's
    # weight on its trial run.
    best = json.loads((tmp_path / "best.json").read_text())
    weights = {}
    if best["family"] == "ensemble":
        weights = {m["trial"]: m["weight"] for m in best["params"]["members"]}
        assert metrics["ensemble_cv_score"] == pytest.approx(best["cv_mean"])
        assert metrics["ensemble_members"] == len(weights)
        assert "trial" in {t["key"]: t["value"] for t in parent["data"]["tags"]}["automl.ensemble"]
    else:
        assert "ensemble_cv_score" not in metrics
    for child in children:
        tags = {t["key"]: t["value"] for t in child["data"]["tags"]}
        child_metrics = {m["key"]: m["value"] for m in child["data"]["metrics"]}
        trial = int(tags["automl.trial"])
        assert child_metrics.get("ensemble_weight") == (
            pytest.approx(weights[trial]) if trial in weights else None
        )

    listed = api(url, "artifacts/list", get=True, run_id=run_id, path="search")
    names = {f["path"] for f in listed["files"]}
    assert {"search/leaderboard.csv", "search/optimization_history.html"} <= names
    assert outcome["monitor"]["current_batch"] == "monitor.current (csv)"
    assert metrics["monitor_drift_share"] == pytest.approx(outcome["monitor"]["drift_share"])
    run_tags = {t["key"]: t["value"] for t in parent["data"]["tags"]}
    assert run_tags["monitor_status"] == outcome["monitor"]["status"]
    monitoring = api(url, "artifacts/list", get=True, run_id=run_id, path="monitoring")
    assert {"monitoring/report.html", "monitoring/summary.json"} <= {
        f["path"] for f in monitoring["files"]
    }
    evaluation = api(url, "artifacts/list", get=True, run_id=run_id, path="evaluation")
    assert "evaluation/roc.png" in {f["path"] for f in evaluation["files"]}
    # Artifacts are sealed at rest: the experiment's location is governed:, the server opens
    # them through the plugin (as the UI's artifact view does), the store holds ciphertext.
    assert parent["info"]["artifact_uri"].startswith("governed:")
    served = requests.get(
        f"{url}/get-artifact", params={"run_uuid": run_id, "path": "search/leaderboard.csv"},
        timeout=30,
    )  # fmt: skip
    assert served.status_code == 200, served.text[:300]
    assert served.text.startswith("number,") or "family" in served.text.splitlines()[0]
    sealed_files = list((TEST_STORE / "objects").glob("*.sealed"))
    assert sealed_files
    assert not any(served.content[:64] in f.read_bytes() for f in sealed_files)

    version = api(url, "registered-models/alias", get=True, name=experiment, alias="candidate")[
        "model_version"
    ]
    assert version["run_id"] == run_id
    assert version["version"] == outcome["register"]["version"]
    registered = [
        e for e in AuditLog(FileAuditBackend(TEST_AUDIT)).entries(action="model.register")
        if e.resource == f"{experiment}/{version['version']}"
    ]  # fmt: skip
    assert [e.outcome for e in registered] == ["ok"]
    assert registered[0].details["mlflow_run_id"] == run_id
    version_tags = {t["key"]: t["value"] for t in version["tags"]}
    assert version_tags["data_hash"].startswith("sha256:")
    assert "test_roc_auc" in version_tags
    assert "cv_roc_auc" in version_tags
    assert version_tags["gates"] == "passed"
    assert version_tags["dossier_object_id"] == outcome["register"]["dossier_object_id"]

    # Four eyes through the server: the trainer may not approve; a reviewer may, which moves
    # `champion` (audited) and tags the version; the report then shows the approval.
    from governance.context import open_governance
    from governance.exceptions import AccessDeniedError
    from governance.mlflow_registry import MlflowRegistry
    from governance.models import approve

    registry = MlflowRegistry(url)
    trainer = open_governance(keyring=TEST_KEYRING, audit=TEST_AUDIT)
    with pytest.raises(AccessDeniedError, match="four eyes"):
        approve(trainer, registry, experiment, version["version"])
    reviewer = open_governance(keyring=TEST_KEYRING, audit=TEST_AUDIT, actor="reviewer-ann")
    approve(reviewer, registry, experiment, version["version"], comment="gaps reviewed")
    champion = api(url, "registered-models/alias", get=True, name=experiment, alias="champion")
    assert champion["model_version"]["version"] == version["version"]
    assert {"approved_by": "reviewer-ann", "approval": "approved"}.items() <= {
        t["key"]: t["value"] for t in champion["model_version"]["tags"]
    }.items()
    params_file = tmp_path / "params.yaml"
    content = report.run(
        params_path=params_file, register_summary_in=tmp_path / "registered.json",
        out_dir=tmp_path / "report",
    )  # fmt: skip
    identity = content["sections"]["identity"]
    assert identity["approval"] == "approved"
    assert identity["decided_by"] == "reviewer-ann"
    assert set(identity["aliases"]) == {"candidate", "champion"}
    assert content["sections"]["governance"]["registry"]["aliases"] == ["candidate", "champion"]
    assert not content["status"]["problems"]


def test_an_unreachable_server_fails_before_any_search_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(TrackingError, match="is unreachable"):
        run_pipeline(tmp_path, uri, "nowhere")
    # ingest and prepare do not track; the search refused before opening its study.
    assert (tmp_path / "train.parquet").exists()
    assert not (tmp_path / "optuna.db").exists()
    assert not (tmp_path / "lb.csv").exists()
