"""Stage ``search``: run (or resume) the AutoML search on the training split.

The study is persistent (``search.storage``) and named after what defines the search (data,
task, metric, families, folds, seed), so a rerun after a crash, or with a larger
``search.n_trials``, continues the same study; a change of data or search space starts a new one.
With ``search.shared: true`` the stage coordinates ``automl worker`` processes
(:mod:`automl.worker`), which find the study by computing the same name from their own copy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from automl import __version__
from automl.config import Params, load_params
from automl.data.profile import content_hash
from automl.ensemble import ENSEMBLE
from automl.events import SearchObserver
from automl.metrics import resolve_metric
from automl.redact import redact_url
from automl.search import SearchResult, run_search
from automl.stages._atomic import atomic_outputs
from automl.stages._io import read_stage_json, read_stage_parquet
from automl.stages._sealing import route_tracking_artifacts


def training_table(
    train_path: str | Path, checks: dict[str, Any], params: Params
) -> tuple[pd.DataFrame, pd.Series]:
    """The features and target of the training split, as the prepare stage defined them."""
    frame = read_stage_parquet(train_path, made_by="prepare", params=params)
    features = [f["name"] for f in checks["features"]]
    return frame[features], frame[checks["target"]]


def study_name(params: Params, checks: dict[str, Any], X: pd.DataFrame, y: pd.Series) -> str:
    """``<search.study_name>-<fingerprint>``: same data and search space, same study."""
    search = params.search
    defining = {
        "data": content_hash(pd.concat([X, y], axis=1)),
        "task": checks["task"],
        "metric": resolve_metric(search.metric, checks["task"], key="search.metric"),
        "families": search.families,
        "cv": params.split.cv_folds,
        "seed": search.seed,
        "pruning": search.pruning,
        # A shared study has a quota and workers; a solo one on the same data is another study.
        "shared": search.shared,
        "early_stopping": search.early_stopping,
        "version": __version__,
    }
    if checks["task"] == "regression":
        # Only a regression search space has it: a classification study stays the one it was.
        defining["target_transform"] = search.target_transform
    digest = hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()[:12]
    return f"{search.study_name or 'automl'}-{digest}"


def _tracker(params: Params, train_in: str | Path) -> Any:
    """The MLflow tracker, connected before any search work (an unreachable server fails now)."""
    if not params.tracking.enabled:
        return None
    from automl.tracking import MlflowSearchTracker, dvc_hashes, flatten, git_commit

    route_tracking_artifacts(params)
    sections = params.model_dump(include={"data", "ingest", "prepare", "split", "search"})
    tags = {f"dvc.md5.{path}": md5 for path, md5 in dvc_hashes().items()}
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit["commit"]
        tags["automl.git_dirty"] = commit["dirty"]
    return MlflowSearchTracker(
        uri=params.tracking.uri,
        experiment=params.tracking.experiment,
        params=flatten(sections),
        tags=tags,
        dataset_source=str(train_in),
        target=params.data.target,
        sealed_artifacts=params.governance.seal_tracking_artifacts,
    )


def run(
    *,
    params_path: str | Path,
    train_in: str | Path,
    checks_in: str | Path,
    leaderboard_out: str | Path,
    best_out: str | Path,
    summary_out: str | Path,
    observers: tuple[SearchObserver, ...] = (),
) -> SearchResult:
    params = load_params(params_path)
    tracker = _tracker(params, train_in)
    checks = read_stage_json(checks_in, made_by="prepare")
    X, y = training_table(train_in, checks, params)
    settings = params.search.model_copy(update={"study_name": study_name(params, checks, X, y)})
    if tracker is not None:
        tracker.dataset = pd.concat([X, y], axis=1)
        tracker.dataset_name = f"{checks['target']} train"
        observers = (*observers, tracker)
    result = run_search(
        X, y, task=checks["task"], settings=settings, cv=params.split.cv_folds,
        observers=observers, role="coordinator" if settings.shared else "solo",
    )  # fmt: skip
    run_id = None
    if tracker is not None:
        tracker.log_search_artifacts(result.leaderboard(), result.study)
        run_id = tracker.run_id
    best = _chosen(result) | {
        "metric": result.metric,
        "task": result.task,
        "study_name": result.study.study_name,
        "mlflow_run_id": run_id,
    }
    summary = {
        "metric": result.metric,
        "best_cv_score": best["cv_mean"],
        "best_cv_std": best["cv_std"],
        "best_family": best["family"],
        "best_single_trial": {
            "trial": result.best.number,
            "family": result.best.family,
            "cv_mean": result.best.cv_mean,
        },
        "trials": {
            "total": len(result.records),
            "complete": sum(r.state == "COMPLETE" for r in result.records),
            "pruned": sum(r.state == "PRUNED" for r in result.records),
            "failed": sum(r.state == "FAIL" for r in result.records),
            "this_run": result.new_trials,
        },
        "skipped_families": result.skipped,
        "study_name": result.study.study_name,
        "storage": redact_url(settings.storage),
        "duration_s": round(result.duration_s, 2),
        "stopped_by": result.stopped_by,
        "mlflow_run_id": run_id,
    }
    with atomic_outputs() as out:
        out.write_with(leaderboard_out, lambda tmp: result.leaderboard().to_csv(tmp, index=False))
        out.write_json(best_out, best)
        out.write_json(summary_out, summary)
    return result


def _chosen(result: SearchResult) -> dict[str, Any]:
    """The model the train stage refits: the ensemble when there is one, else the best trial."""
    if result.ensemble is not None:
        ensemble = result.ensemble.to_dict()
        return {
            "family": ENSEMBLE,
            "params": {k: ensemble[k] for k in ("members", "inputs", "second") if k in ensemble},
            "trial": None,
            "cv_mean": ensemble["cv_mean"],
            "cv_std": ensemble["cv_std"],
            "cv_scores": ensemble["cv_scores"],
        }
    return {
        "family": result.best.family,
        "params": result.best.params,
        "trial": result.best.number,
        "cv_mean": result.best.cv_mean,
        "cv_std": result.best.cv_std,
        "cv_scores": list(result.best.cv_scores),
    }
