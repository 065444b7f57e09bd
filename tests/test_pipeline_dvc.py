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


def _env() -> dict[str, str]:
    # Stages call the `automl` console script: the interpreter's bin dir goes first on PATH.
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_", "GOVERNANCE_"))}
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
    for stage in ("ingest", "prepare", "search", "train", "evaluate", "monitor"):
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
    assert set(lock["stages"]) == {"ingest", "prepare", "search", "train", "evaluate", "monitor"}
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
    assert len(board) == 12
    best = json.loads((project / "results/search/best_params.json").read_text())
    assert best["cv_mean"] == pytest.approx(summary["best_cv_score"])
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
    log = sh(project, "dvc", "repro")
    assert "Stage 'ingest' didn't change, skipping" in log
    assert "Running stage 'prepare'" in log
    # New splits mean a new search (a new study: its name carries the data's fingerprint).
    assert "Running stage 'search'" in log
    test = _dataset(project, "data/prepared/test.parquet")
    assert len(test) == math.ceil(0.25 * 4454)


def test_exp_run_with_a_param_override(project: Path) -> None:
    log = sh(project, "dvc", "exp", "run", "-S", "split.test_size=0.3")
    assert "Running stage 'prepare'" in log
    assert "Running stage 'ingest'" not in log
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["split"]["test_size"] == 0.3
    checks = json.loads((project / "data/prepared/checks.json").read_text())
    assert checks["rows"]["test"] == math.ceil(0.3 * 4454)
    assert "0.3" in sh(project, "dvc", "exp", "show", "--no-pager", "--csv")


def test_raising_n_trials_continues_the_study(project: Path) -> None:
    _small_search(project / "params.yaml", n_trials=15)
    log = sh(project, "dvc", "repro")
    assert "Stage 'prepare' didn't change, skipping" in log
    summary = json.loads((project / "results/search/summary.json").read_text())
    assert summary["trials"]["total"] == 15
    assert summary["trials"]["this_run"] == 3


def test_a_killed_search_resumes_with_its_trials(project: Path) -> None:
    import optuna

    _small_search(project / "params.yaml", n_trials=400, time_budget_s=600)
    process = subprocess.Popen(
        ["dvc", "repro"], cwd=project, env=_env(), start_new_session=True,
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
    sh(project, "dvc", "repro")
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
            "tracking.enabled",
            "tracking.uri",
            "tracking.registered_model",
            *(f"train.{k}" for k in TrainParams.model_fields),
            *tracks,
        },
        "evaluate": {"search.seed", "tracking.enabled", "tracking.uri", *tracks},
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
