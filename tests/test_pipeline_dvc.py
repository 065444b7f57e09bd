"""A real ``dvc repro`` of the pipeline in a temporary copy of this repository."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from automl.data import content_hash
from governance.keys import LocalKeyring
from governance.sealed import SealedFiles, Sealer, is_sealed
from tests.conftest import REPO_ROOT, read_dataset

pytestmark = pytest.mark.integration
STAGES = ("ingest", "prepare", "search", "train", "evaluate", "monitor", "register", "report")


def _env() -> dict[str, str]:
    # Stages call the `automl` console script: the interpreter's bin dir goes first on PATH.
    bindir = str(Path(sys.executable).parent)
    # As on a user's machine: nothing left behind by in-process tests (mlflow.set_tracking_uri
    # exports MLFLOW_TRACKING_URI, for one).
    prefixes = ("GIT_", "DVC_", "GOVERNANCE_", "MLFLOW_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {
        **env,
        "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "pipeline-test",
        "GIT_AUTHOR_EMAIL": "pipeline-test@example.org",
        "GIT_COMMITTER_NAME": "pipeline-test",
        "GIT_COMMITTER_EMAIL": "pipeline-test@example.org",
    }


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository (as git would check it out) after one `dvc repro`."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    root = tmp_path_factory.mktemp("repo") / "project"
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    _small_search(root / "params.yaml", n_trials=12)
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "copy")
    log = sh(root, "dvc", "repro")
    for stage in STAGES:
        assert f"Running stage '{stage}'" in log
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "--allow-empty", "-m", "reproduced")
    return root


def _small_search(params_file: Path, *, n_trials: int, time_budget_s: float = 40) -> None:
    """Keep the search of a test pipeline short: few trials, two quick families."""
    params = yaml.safe_load(params_file.read_text())
    params["search"].update(
        n_trials=n_trials, time_budget_s=time_budget_s, families=["linear", "lightgbm"]
    )
    params["evaluate"]["bootstrap"] = 200
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def project(reproduced: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced project, so each test may change it."""
    copy = tmp_path / "project"
    shutil.copytree(reproduced, copy, symlinks=True)
    return copy


def _dataset(project: Path, name: str) -> pd.DataFrame:
    return read_dataset(project / name, keyring=project / ".keys")


def test_repro_writes_the_outputs(project: Path) -> None:
    data = _dataset(project, "data/ingested/dataset.parquet")
    profile = json.loads((project / "data/ingested/profile.json").read_text())
    assert profile["row_count"] == len(data) == 4454
    assert profile["content_hash"] == content_hash(data)
    train = _dataset(project, "data/prepared/train.parquet")
    test = _dataset(project, "data/prepared/test.parquet")
    checks = json.loads((project / "data/prepared/checks.json").read_text())
    assert checks["task"] == "binary"
    assert len(train) + len(test) == 4454
    assert len(test) == math.ceil(0.2 * 4454)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)
    monitoring = json.loads((project / "results/monitor/summary.json").read_text())
    assert monitoring["status"] in ("pass", "warn")  # the test split comes from the same data
    assert monitoring["current_batch"] == "data/prepared/test.parquet"
    assert (project / "results/monitor/report.html").stat().st_size > 100_000
    assert (project / ".evidently").is_dir()
    evaluation = json.loads((project / "results/evaluate/metrics.json").read_text())
    assert evaluation["metric"] == "roc_auc"
    assert 0.5 < evaluation["roc_auc"] <= 1
    assert (project / "results/evaluate/figures/roc.png").stat().st_size > 1000
    assert "roc_auc" in sh(project, "dvc", "metrics", "show")
    summary = json.loads((project / "results/search/summary.json").read_text())
    assert summary["trials"]["total"] == 12
    assert summary["metric"] == "roc_auc"
    board = pd.read_csv(project / "results/search/leaderboard.csv")
    assert len(board[board.state != "ENSEMBLE"]) == 12
    best = json.loads((project / "results/search/best_params.json").read_text())
    assert best["cv_mean"] == pytest.approx(summary["best_cv_score"])
    assert best["cv_mean"] == pytest.approx(board["cv_mean"].iloc[0])
    trained = json.loads((project / "results/train/summary.json").read_text())
    assert trained["family"] == best["family"] == summary["best_family"]
    if best["family"] == "ensemble":  # the ensemble beat the best trial: it is what was trained
        assert board["state"].iloc[0] == "ENSEMBLE"
        members = {m["trial"]: m["weight"] for m in best["params"]["members"]}
        # With a second level, its members (named by the first-level trial they repeat) share
        # the weight.
        second = [m["weight"] for m in best["params"].get("second", [])]
        assert sum(members.values()) + sum(second) == pytest.approx(1.0)
        weights = board.dropna(subset=["trial"]).set_index("trial")["ensemble_weight"]
        assert {int(t): w for t, w in weights.items() if w > 0} == pytest.approx(members)
        assert best["cv_mean"] > summary["best_single_trial"]["cv_mean"]
    files = SealedFiles(Sealer(LocalKeyring(project / ".keys")))
    model = pickle.loads(files.read(project / "models/model.sealed"))
    assert set(model.predict(test.drop(columns="Status"))) <= {"good", "bad"}
    metrics = sh(project, "dvc", "metrics", "show", "--json")
    assert "best_cv_score" in metrics
    # Every seal and unseal of the run is in the project's audit log, which verifies.
    assert "ok:" in sh(project, "governance", "audit", "verify")
    entries = [
        json.loads(line) for line in (project / ".audit" / "audit.log").read_text().splitlines()
    ]
    done = {(e["action"], e["resource"].split("-")[0]) for e in entries if e["outcome"] == "ok"}
    assert {("put", "dataset"), ("put", "train"), ("put", "test"), ("put", "model")} <= done
    assert {("get", "dataset"), ("get", "train"), ("get", "test"), ("get", "model")} <= done
    assert ("model.register", "credit") in done
    assert lock["stages"]["prepare"]["params"]["params.yaml"]["split.test_size"] == 0.2


def test_dvc_cache_and_remote_hold_only_ciphertext(project: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    sh(project, "dvc", "remote", "add", "-d", "backup", str(remote))
    sh(project, "dvc", "push")
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    sealed = {
        out["path"]: out["md5"]
        for stage in ("ingest", "prepare", "train")
        for out in lock[stage]["outs"]
        if out["path"].endswith((".parquet", ".sealed"))
    }
    assert set(sealed) == {
        "data/ingested/dataset.parquet", "data/prepared/train.parquet",
        "data/prepared/test.parquet", "models/model.sealed",
    }  # fmt: skip
    for root in (project / ".dvc" / "cache", remote):
        for md5 in sealed.values():
            copy = root / "files" / "md5" / md5[:2] / md5[2:]
            assert is_sealed(copy), copy
        for copy in (p for p in root.rglob("*") if p.is_file()):
            head = copy.read_bytes()[:4]
            assert head != b"PAR1" and not head.startswith(b"\x80"), f"plaintext in {copy}"
    # Crypto-shredding the model's key erases the pushed copy too.
    model_md5 = sealed["models/model.sealed"]
    pushed = remote / "files" / "md5" / model_md5[:2] / model_md5[2:]
    stat = subprocess.run(
        ["governance", "file", "stat", str(pushed)], cwd=project, env=_env(),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    object_id = json.loads(stat.stdout)["object_id"]
    assert (
        object_id
        == json.loads((project / "results/train/summary.json").read_text())["model_object_id"]
    )
    sh(project, "governance", "keys", "shred", object_id)
    assert "shredded" in sh(project, "governance", "file", "verify", str(pushed))
    assert "ok" in sh(project, "governance", "file", "verify", "data/prepared/train.parquet")


def test_a_tampered_model_stops_evaluate(project: Path) -> None:
    model = project / "models" / "model.sealed"
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    model.chmod(0o600)
    model.write_bytes(bytes(raw))
    done = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", "evaluate"], cwd=project, env=_env(),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "models/model.sealed" in output
    assert "failed authentication" in output
    assert "Traceback" not in output


def test_second_repro_does_nothing(project: Path) -> None:
    log = sh(project, "dvc", "repro")
    assert "Running stage" not in log
    assert "Data and pipelines are up to date" in log
    assert sh(project, "dvc", "status").strip().startswith("Data and pipelines are up to date")


def test_changing_test_size_reruns_from_prepare(project: Path) -> None:
    params_file = project / "params.yaml"
    params_file.write_text(params_file.read_text().replace("test_size: 0.2", "test_size: 0.25"))
    log = sh(project, "dvc", "repro", "search")  # what follows is tested elsewhere
    assert "Stage 'ingest' didn't change, skipping" in log
    assert "Running stage 'prepare'" in log
    # New splits mean a new search (a new study: its name carries the data's fingerprint).
    assert "Running stage 'search'" in log
    test = _dataset(project, "data/prepared/test.parquet")
    assert len(test) == math.ceil(0.25 * 4454)


def test_exp_run_with_a_param_override(project: Path) -> None:
    log = sh(project, "dvc", "exp", "run", "-S", "split.test_size=0.3", "prepare")
    assert "Running stage 'prepare'" in log
    assert "Running stage 'ingest'" not in log
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["split"]["test_size"] == 0.3
    checks = json.loads((project / "data/prepared/checks.json").read_text())
    assert checks["rows"]["test"] == math.ceil(0.3 * 4454)
    assert "0.3" in sh(project, "dvc", "exp", "show", "--no-pager", "--csv")


def test_raising_n_trials_continues_the_study(project: Path) -> None:
    _small_search(project / "params.yaml", n_trials=15)
    log = sh(project, "dvc", "repro", "search")
    assert "Stage 'prepare' didn't change, skipping" in log
    summary = json.loads((project / "results/search/summary.json").read_text())
    assert summary["trials"]["total"] == 15
    assert summary["trials"]["this_run"] == 3


def test_a_killed_search_resumes_with_its_trials(project: Path) -> None:
    import optuna

    _small_search(project / "params.yaml", n_trials=400, time_budget_s=600)
    process = subprocess.Popen(
        ["dvc", "repro", "search"], cwd=project, env=_env(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    storage = f"sqlite:///{project / 'optuna.db'}"
    name = json.loads((project / "results/search/summary.json").read_text())["study_name"]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            time.sleep(1)
            study = optuna.load_study(study_name=name, storage=storage)
            if len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) >= 17:
                break
        else:
            pytest.fail("the search made no progress")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    kept = {t.number: t.value for t in study.trials if t.state.name == "COMPLETE"}
    total = len(optuna.load_study(study_name=name, storage=storage).trials)
    _small_search(project / "params.yaml", n_trials=total + 2)
    sh(project, "dvc", "repro", "search")
    resumed = optuna.load_study(study_name=name, storage=storage)
    assert {n: resumed.trials[n].value for n in kept} == kept
    assert len(resumed.trials) == total + 2
    summary = json.loads((project / "results/search/summary.json").read_text())
    assert summary["trials"]["this_run"] == 2


def test_a_bad_param_fails_the_stage_and_keeps_the_lock(project: Path) -> None:
    params_file = project / "params.yaml"
    params_file.write_text(params_file.read_text().replace("test_size: 0.2", "test_size: 1.5"))
    lock_before = (project / "dvc.lock").read_text()
    done = subprocess.run(
        ["dvc", "repro"], cwd=project, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode != 0
    assert "split.test_size = 1.5: must be between 0 and 1" in done.stdout + done.stderr
    assert (project / "dvc.lock").read_text() == lock_before


def test_dvc_yaml_lists_every_param_its_stages_read() -> None:
    from automl.config import (
        DataParams,
        IngestParams,
        PrepareParams,
        SearchParams,
        SplitParams,
        TrainParams,
    )

    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    seals = {"governance.keyring", "governance.seal_datasets"}
    tracks = {"governance.keyring", "governance.store", "governance.seal_tracking_artifacts"}
    reads = {
        "search": {
            "split.cv_folds",
            "tracking.enabled",
            "tracking.uri",
            "tracking.experiment",
            *(f"search.{k}" for k in SearchParams.model_fields),
            *tracks,
        },
        "train": {
            "search.seed",
            "search.early_stopping",
            "split.cv_folds",
            "tracking.enabled",
            "tracking.uri",
            "tracking.registered_model",
            *(f"train.{k}" for k in TrainParams.model_fields),
            *tracks,
        },
        "evaluate": {"search.seed", "evaluate", "tracking.enabled", "tracking.uri", *tracks},
        "ingest": {"data.target", *(f"ingest.{k}" for k in IngestParams.model_fields), *seals},
        "prepare": {
            *(f"data.{k}" for k in DataParams.model_fields),
            *(f"prepare.{k}" for k in PrepareParams.model_fields),
            *(f"split.{k}" for k in SplitParams.model_fields),
            *seals,
        },
    }
    reads["monitor"] = {
        "monitor", "tracking.enabled", "tracking.uri", "tracking.experiment", *tracks,
    }  # fmt: skip
    reads["register"] = {
        "register", "model_card", "tracking.enabled", "tracking.uri",
        "tracking.registered_model", "governance",
    }  # fmt: skip
    reads["report"] = {"tracking.enabled", "tracking.uri", "governance"}
    for stage, expected in reads.items():
        assert set(stages[stage]["params"]) == expected, stage


def test_monitor_a_new_batch_outside_dvc(project: Path) -> None:
    test = _dataset(project, "data/prepared/test.parquet")
    same = project / "same.csv"
    test.to_csv(same, index=False)
    shifted = test.copy()
    for column in ("Income", "Amount", "Price", "Expenses", "Assets", "Seniority", "Age"):
        shifted[column] = shifted[column] * 3 + 100
    drifted = project / "drifted.csv.gz"
    shifted.to_csv(drifted, index=False)

    def monitor(batch: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["automl", "monitor", "--current", str(batch)], cwd=project, env=_env(),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    ok = monitor(same)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "status: PASS" in ok.stdout or "status: WARN" in ok.stdout
    bad = monitor(drifted)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "status: FAIL" in bad.stdout and "Income" in bad.stdout
    summary = json.loads((project / "results/monitor-batch/summary.json").read_text())
    assert summary["status"] == "fail" and "Income" in summary["drifted_columns"]
    test.drop(columns=["Income"]).to_csv(project / "partial.csv", index=False)
    partial = monitor(project / "partial.csv")
    assert partial.returncode == 3
    assert "lacks the model's feature column(s) ['Income']" in partial.stderr
    assert "Traceback" not in partial.stderr


def _run(project: Path, *args: str, actor: str | None = None) -> subprocess.CompletedProcess[str]:
    env = _env() | ({"GOVERNANCE_ACTOR": actor} if actor else {})
    return subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=600)


def test_the_report_matches_the_pipeline_outputs(project: Path) -> None:
    """Each section of the signed report against the file it claims to come from."""
    registered = json.loads((project / "results/register/summary.json").read_text())
    assert registered["status"] == "registered"
    assert registered["alias"] == "candidate"
    assert registered["gates"]["passed"] is True
    folder = project / "results" / "report"
    checked = _run(project, "governance", "report", "verify", str(folder))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the signing key is the audit log's" in checked.stdout
    report = json.loads((folder / "report.json").read_text())
    sections = report["sections"]
    trained = json.loads((project / "results/train/summary.json").read_text())
    identity = sections["identity"]
    assert identity["model_name"] == "credit-scoring"
    assert identity["version"] == registered["version"]
    assert identity["aliases"] == ["candidate"]
    assert identity["approval"] == "pending"
    assert identity["model_sha256"] == trained["model_sha256"]
    assert identity["model_object_id"] == trained["model_object_id"]
    assert (
        identity["owner"]
        == yaml.safe_load((project / "params.yaml").read_text())["model_card"]["owner"]
    )
    # Lineage: the hashes are dvc.lock's, for the stages that ran before registration.
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    recorded = {(r["stage"], r["path"]): r["md5"] for r in sections["data_lineage"]["dvc_lock"]}
    for stage in ("ingest", "prepare", "search", "train", "evaluate"):
        for out in lock[stage]["outs"]:
            assert recorded[(stage, out["path"])] == out["md5"], out["path"]
    checks = json.loads((project / "data/prepared/checks.json").read_text())
    assert sections["data_lineage"]["split"]["test_rows"] == checks["rows"]["test"]
    assert sections["data_lineage"]["schema"]["features"] == checks["features"]
    # Training: the commit the pipeline ran at, the study, the leaderboard's best.
    head = sh(project, "git", "rev-parse", "HEAD~1").strip()  # `reproduced` committed after
    assert sections["training"]["code"] == {"commit": head, "dirty": "false"}
    assert sections["reproducibility"]["commit"] == head
    assert f"git checkout {head}" in sections["reproducibility"]["commands"]
    search = json.loads((project / "results/search/summary.json").read_text())
    assert sections["training"]["study"]["name"] == search["study_name"]
    assert sections["training"]["study"]["trials"]["total"] == 12
    board = pd.read_csv(project / "results/search/leaderboard.csv")
    assert sections["training"]["leaderboard_top"][0]["cv_mean"] == pytest.approx(
        board["cv_mean"].iloc[0]
    )
    # Evaluation: the metrics with their intervals, the groups, the figures.
    metrics = json.loads((project / "results/evaluate/metrics.json").read_text())
    table = {m["metric"]: m for m in sections["evaluation"]["test_metrics"]}
    assert table["roc_auc"]["value"] == pytest.approx(metrics["roc_auc"])
    assert table["roc_auc"]["low"] == pytest.approx(metrics["intervals"]["roc_auc"]["low"])
    assert table["roc_auc"]["low"] <= table["roc_auc"]["value"] <= table["roc_auc"]["high"]
    fairness = json.loads((project / "results/evaluate/fairness.json").read_text())
    assert sections["evaluation"]["groups"] == fairness["attributes"]
    assert set(fairness["attributes"]) == {"Age", "Marital"}
    assert {"roc", "confusion", "groups_Age", "groups_Marital"} <= set(
        sections["evaluation"]["figures"]
    )
    gates = {c["gate"]: c for c in sections["gates"]["checks"]}
    age_gap = fairness["attributes"]["Age"]["gaps"]["equalized_odds_difference"]
    assert gates["equalized_odds_difference (Age)"]["value"] == pytest.approx(age_gap)
    monitoring = json.loads((project / "results/monitor/summary.json").read_text())
    assert sections["monitoring"]["status"] == monitoring["status"]
    assert sections["monitoring"]["latest_status"] == monitoring["status"]
    # Governance evidence: the chain verifies; every sealed output with its record and key.
    governance = sections["governance"]
    assert governance["audit_log"]["verified"] is True
    files = SealedFiles(Sealer(LocalKeyring(project / ".keys")))
    sealed = {a["path"]: a for a in governance["sealed_artifacts"]}
    assert set(sealed) == {
        "models/model.sealed", "data/ingested/dataset.parquet", "data/prepared/train.parquet",
        "data/prepared/test.parquet",
    }  # fmt: skip
    for path, artifact in sealed.items():
        info = files.stat(project / path)
        assert (artifact["object_id"], artifact["sha256"]) == (info.object_id, info.sha256)
        assert artifact["key_status"] == "present"
    actions = {(e["action"], e["outcome"]) for e in governance["access_history"]}
    assert {("put", "ok"), ("get", "ok"), ("model.train", "ok"), ("model.gates", "passed")} <= (
        actions
    )
    assert report["status"]["overall"] == "ATTENTION"  # not approved yet
    html = (folder / "report.html").read_text()
    assert "<script" not in html and "Status: ATTENTION" in html


def test_four_eyes_approval_and_the_audited_alias_moves(project: Path) -> None:
    version = json.loads((project / "results/register/summary.json").read_text())["version"]
    policy = project / "policy.yaml"
    policy.write_text(
        "identities: {bob: [approver], carol: [analyst]}\n"
        "default_roles: [pipeline]\n"
        "roles:\n"
        "  pipeline: {'*': ['*']}\n"
        "  analyst: {artifact.read: ['*']}\n"
        "  approver: {model.approve: ['*'], model.promote: ['*'], audit.read: ['*'],"
        " artifact.*: ['*']}\n"
    )
    # The trainer (this OS user, in the pipeline role) may not approve its own model.
    own = _run(project, "governance", "--policy", str(policy), "approve", "credit-scoring",
               version)  # fmt: skip
    assert own.returncode == 7, own.stdout + own.stderr
    assert "four eyes" in own.stderr
    denied = _run(project, "governance", "--policy", str(policy), "approve", "credit-scoring",
                  version, actor="carol")  # fmt: skip
    assert denied.returncode == 7
    assert "access denied" in denied.stderr
    done = _run(project, "governance", "--policy", str(policy), "approve", "credit-scoring",
                version, "--comment", "fairness gaps reviewed", actor="bob")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    import mlflow

    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("credit-scoring", "champion")
    assert str(champion.version) == version
    assert champion.tags["approved_by"] == "bob"
    entries = [json.loads(line) for line in (project / ".audit/audit.log").read_text().splitlines()]
    decisions = [
        (e["actor"], e["action"], e["outcome"]) for e in entries
        if e["action"] in ("model.approve", "model.alias")
    ]  # fmt: skip
    assert ("bob", "model.approve", "ok") in decisions
    assert ("carol", "model.approve", "denied") in decisions
    assert ("bob", "model.alias", "ok") in decisions
    assert any(d[1:] == ("model.approve", "denied") and d[0] != "carol" for d in decisions)
    report = _run(project, "governance", "report", "credit-scoring", version, "--out", "rep",
                  actor="bob")  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    content = json.loads((project / "rep" / "report.json").read_text())
    assert content["sections"]["identity"]["approval"] == "approved"
    assert content["sections"]["identity"]["aliases"] == ["candidate", "champion"]
    assert "governance audit verify" not in report.stderr


def test_a_failing_gate_stops_registration(project: Path) -> None:
    params_file = project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["register"]["gates"]["test_metrics"] = {"roc_auc": 0.99}
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    done = _run(project, "dvc", "repro")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Running stage 'evaluate'" not in output  # only register's params changed
    assert "failed 1 of" in output and "test roc_auc" in output and "0.99" in output
    assert "Traceback" not in output
    assert "Running stage 'report'" not in output
    summary = json.loads((project / "results/register/summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["gates"]["failures"][0].startswith("test roc_auc")
    entries = [json.loads(line) for line in (project / ".audit/audit.log").read_text().splitlines()]
    assert entries[-1]["action"] != "model.register"
    assert ("model.gates", "failed") in {(e["action"], e["outcome"]) for e in entries}
    import mlflow

    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name = 'credit-scoring'")
    assert len(versions) == 1  # no new version
    run = client.get_run(summary_run := versions[0].run_id)
    assert run.data.tags["gates"] == "failed", summary_run
    assert "test roc_auc" in run.data.tags["gate_failures"]


def test_a_report_on_a_broken_audit_chain_says_so(project: Path) -> None:
    version = json.loads((project / "results/register/summary.json").read_text())["version"]
    log = project / ".audit" / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if b'"action":"model.train"' in line)
    lines[target] = lines[target].replace(b'"outcome":"ok"', b'"outcome":"OK"')
    log.write_bytes(b"".join(lines))
    done = _run(project, "governance", "report", "credit-scoring", version, "--out", "rep")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "THE AUDIT LOG FAILS VERIFICATION" in done.stdout + done.stderr
    html = (project / "rep" / "report.html").read_text()
    assert 'class="status FAIL"' in html
    assert html.index("THE AUDIT LOG FAILS VERIFICATION") < html.index('id="identity"')
    assert json.loads((project / "rep" / "report.json").read_text())["status"]["overall"] == (
        "FAIL"
    )
    # Approving on a broken log is refused too.
    refused = _run(project, "governance", "approve", "credit-scoring", version, actor="bob")
    assert refused.returncode == 4
    assert "fails verification" in refused.stderr
