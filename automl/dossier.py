"""The model's dossier: the evidence the compliance report is made of, gathered from the
pipeline's own outputs when the model is registered.

Nothing here is typed in by hand except the ``model_card`` section of params.yaml, which is
quoted as such. Every section names the files it was read from with their SHA-256
(``evidence``), so a reviewer can check each claim against the file it came from. The dossier
is sealed into the store and its hash recorded in the audit log by the register stage;
``governance report`` renders it (governance/report.py defines the sections it knows).
"""

from __future__ import annotations

import base64
import json
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from automl.config import Params
from automl.data.files import file_facts
from automl.tracking.lineage import flatten, git_commit

FORMAT = "automl-governance-dossier/1"
_PACKAGES = (
    "automl-governance", "scikit-learn", "lightgbm", "xgboost", "catboost", "optuna", "mlflow",
    "dvc", "evidently", "pandas", "numpy", "pyarrow", "cryptography",
)  # fmt: skip
_LEADERBOARD_ROWS = 10
_LEADERBOARD_COLUMNS = ("trial", "family", "state", "cv_mean", "cv_std", "fit_time_s", "params")
_IMPORTANCE_ROWS = 15


@dataclass(frozen=True)
class Inputs:
    """The files the dossier is read from (the register stage's dependencies)."""

    params: Path
    checks: Path
    profile: Path
    search_summary: Path
    best: Path
    leaderboard: Path
    train_summary: Path
    metrics: Path
    fairness: Path
    importances: Path
    figures: Path
    monitor_summary: Path
    monitor_report: Path
    lock: Path = Path("dvc.lock")


def sha256_of(path: Path) -> str | None:
    return str(file_facts(path)["sha256"]) if path.is_file() else None


def _evidence(*paths: Path) -> list[dict[str, Any]]:
    return [{"source": p.as_posix(), "sha256": sha256_of(p)} for p in paths]


def _json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def build_dossier(
    *,
    inputs: Inputs,
    params: Params,
    registration: Mapping[str, Any],
    artifacts: list[dict[str, Any]],
    gates: Mapping[str, Any],
) -> dict[str, Any]:
    """Every section of the report that the pipeline's outputs can fill."""
    trained = _json(inputs.train_summary)
    checks = _json(inputs.checks)
    return {
        "format": FORMAT,
        "identity": _identity(inputs, params, registration, trained, artifacts),
        "intended_use": _intended_use(inputs, params),
        "data_lineage": _lineage(inputs, params, checks),
        "training": _training(inputs, params, trained),
        "evaluation": _evaluation(inputs),
        "monitoring": _monitoring(inputs, trained),
        "gates": dict(gates) | {"evidence": _evidence(inputs.metrics, inputs.fairness)},
        "artifacts": {"sealed": artifacts, "evidence": _evidence(inputs.lock)},
        "reproducibility": _reproducibility(inputs),
    }


def _identity(
    inputs: Inputs,
    params: Params,
    registration: Mapping[str, Any],
    trained: dict[str, Any],
    artifacts: list[dict[str, Any]],
) -> dict[str, Any]:
    sealed = next((a for a in artifacts if a.get("role") == "model"), {})
    return {
        "model_name": registration.get("model_name"),
        "version": registration.get("version"),
        "model_uri": registration.get("model_uri"),
        "mlflow_run_id": trained.get("mlflow_run_id"),
        "tracking_uri": params.tracking.uri if params.tracking.enabled else None,
        "model_object_id": trained.get("model_object_id"),
        "model_sha256": trained.get("model_sha256"),
        "model_bytes": trained.get("model_bytes"),
        "model_file": sealed.get("path"),
        "model_key": (
            f"data key {sealed['object_id']}, wrapped by {sealed['kek']}" if sealed else None
        ),
        "family": trained.get("family"),
        "task": trained.get("task"),
        "target": trained.get("target"),
        "classes": trained.get("classes"),
        "owner": params.model_card.owner,
        "trained_by": trained.get("trained_by"),
        "trained_at": trained.get("trained_at"),
        "evidence": _evidence(inputs.train_summary),
    }


def _intended_use(inputs: Inputs, params: Params) -> dict[str, Any]:
    card = params.model_card.model_dump(mode="json")
    return card | {"evidence": _evidence(inputs.params)}


def _lineage(inputs: Inputs, params: Params, checks: dict[str, Any]) -> dict[str, Any]:
    profile = _json(inputs.profile)
    columns = [
        {k: c.get(k) for k in ("name", "dtype", "kind", "missing_share", "unique", "min", "max")}
        for c in profile.get("columns", [])
    ]  # category levels are left out: they may name people
    rows = checks.get("rows", {})
    return {
        "source": flatten(params.ingest.source.model_dump(mode="json")),
        "source_file": {
            k: profile.get("source", {}).get(k)
            for k in ("bytes", "sha256")
            if profile.get("source")
        },
        "content_hash": profile.get("content_hash"),
        "rows": profile.get("row_count"),
        "columns": profile.get("column_count"),
        "dvc_lock": _lock_table(inputs.lock),
        "schema": {
            "target": checks.get("target"),
            "task": checks.get("task"),
            "classes": checks.get("classes"),
            "features": checks.get("features", []),
            "protected_columns": checks.get("protected_columns", []),
            "dropped_columns": checks.get("dropped_columns", []),
        },
        "split": {
            "train_rows": rows.get("train"),
            "test_rows": rows.get("test"),
            "rows_without_target": rows.get("dropped_missing_target"),
            **{k: v for k, v in checks.get("split", {}).items() if not isinstance(v, dict)},
        },
        "class_counts": checks.get("class_counts"),
        "profile": columns,
        "data_checks": {
            "warnings": checks.get("warnings", []),
            "leakage": checks.get("leakage", []),
            "id_like_columns": checks.get("id_like_columns", []),
            "duplicates": checks.get("duplicates", {}),
        },
        "evidence": _evidence(inputs.profile, inputs.checks, inputs.lock),
    }


def _lock_table(lock: Path) -> list[dict[str, Any]]:
    """Every dependency and output of every stage as dvc.lock records them."""
    if not lock.is_file():
        return []
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages") or {}
    rows = []
    for stage, entry in stages.items():
        for kind in ("deps", "outs"):
            for item in entry.get(kind) or []:
                if isinstance(item, dict) and "path" in item:
                    rows.append(
                        {"stage": stage, "kind": kind[:-1], "path": item["path"],
                         "md5": item.get("md5"), "size": item.get("size")}
                    )  # fmt: skip
    return rows


def _training(inputs: Inputs, params: Params, trained: dict[str, Any]) -> dict[str, Any]:
    search = _json(inputs.search_summary)
    best = _json(inputs.best)
    board = pd.read_csv(inputs.leaderboard) if inputs.leaderboard.is_file() else pd.DataFrame()
    top = board.head(_LEADERBOARD_ROWS)
    top = top[[c for c in _LEADERBOARD_COLUMNS if c in top.columns]]
    return {
        "code": git_commit(),
        "family": best.get("family"),
        "best_params": best.get("params"),
        "cv_score": {
            "metric": best.get("metric"),
            "mean": best.get("cv_mean"),
            "std": best.get("cv_std"),
        },
        "study": {
            "name": search.get("study_name"),
            "storage": search.get("storage"),
            "trials": search.get("trials"),
            "stopped_by": search.get("stopped_by"),
            "duration_s": search.get("duration_s"),
            "mlflow_run_id": search.get("mlflow_run_id"),
        },
        "leaderboard_top": json.loads(top.to_json(orient="records")) if len(top) else [],
        "seeds": {"search": params.search.seed, "split": params.split.seed},
        "fit": {
            "rows": trained.get("rows"),
            "fit_time_s": trained.get("fit_time_s"),
            "features": trained.get("features"),
        },
        "params": flatten(params.model_dump(mode="json", exclude={"model_card"})),
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": {name: _version(name) for name in _PACKAGES},
        },
        "evidence": _evidence(
            inputs.search_summary, inputs.best, inputs.leaderboard, inputs.params
        ),
    }


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _evaluation(inputs: Inputs) -> dict[str, Any]:
    metrics = _json(inputs.metrics)
    intervals = metrics.get("intervals", {})
    table = [
        {"metric": name, "value": value, "low": intervals.get(name, {}).get("low"),
         "high": intervals.get(name, {}).get("high")}
        for name, value in metrics.items()
        if isinstance(value, float) and name != "cv_test_gap" and not name.startswith("cv_")
    ]  # fmt: skip
    first: dict[str, Any] = next(iter(intervals.values()), {})
    importances = (
        pd.read_csv(inputs.importances).head(_IMPORTANCE_ROWS)
        if inputs.importances.is_file()
        else pd.DataFrame()
    )
    pngs = sorted(inputs.figures.glob("*.png")) if inputs.figures.is_dir() else []
    figures = {png.stem: base64.b64encode(png.read_bytes()).decode() for png in pngs}
    return {
        "metric": metrics.get("metric"),
        "test_rows": metrics.get("rows"),
        "test_metrics": table,
        "confidence": {
            "level": first.get("confidence"),
            "resamples": first.get("resamples"),
            "method": "percentile bootstrap over test rows",
        }
        if first
        else None,
        "cv_test_gap": metrics.get("cv_test_gap"),
        "groups": _json(inputs.fairness).get("attributes", {}),
        "importances": json.loads(importances.to_json(orient="records"))
        if len(importances)
        else [],
        "figures": figures,
        "evidence": _evidence(inputs.metrics, inputs.fairness, inputs.importances, *pngs),
    }


def _monitoring(inputs: Inputs, trained: dict[str, Any]) -> dict[str, Any]:
    summary = _json(inputs.monitor_summary)
    run = trained.get("mlflow_run_id")
    return {
        "status": summary.get("status"),
        "checked_at": summary.get("checked_at"),
        "current_batch": summary.get("current_batch"),
        "drift_share": summary.get("drift_share"),
        "drifted_columns": summary.get("drifted_columns"),
        "quality": summary.get("quality"),
        "reasons": summary.get("reasons"),
        "evidently_report": {
            "path": inputs.monitor_report.as_posix(),
            "sha256": sha256_of(inputs.monitor_report),
            "mlflow_artifact": f"runs:/{run}/monitoring/report.html" if run else None,
        },
        "evidence": _evidence(inputs.monitor_summary, inputs.monitor_report),
    }


def _reproducibility(inputs: Inputs) -> dict[str, Any]:
    code = git_commit()
    commit = code.get("commit", "<commit>")
    commands = [
        "git clone <this repository> project && cd project",
        f"git checkout {commit}",
        "dvc pull          # the sealed data and model from the DVC remote (ciphertext)",
        "dvc repro         # rebuilds every stage whose inputs differ; nothing when all match",
        "dvc status        # compares the workspace with the hashes in dvc.lock",
    ]
    notes = ["Unsealing needs the project's keyring (governance.keyring); it is never in git."]
    if code.get("dirty") == "true":
        notes.append(
            "The working tree had uncommitted changes when this model was registered: the "
            "commit alone does not reproduce it."
        )
    if not code:
        notes.append("The project was not a git repository: the code version is unknown.")
    return {
        "commit": code.get("commit"),
        "uncommitted_changes": code.get("dirty") == "true" if code else None,
        "commands": commands,
        "notes": notes,
        "evidence": _evidence(inputs.lock, inputs.params),
    }
