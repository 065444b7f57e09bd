"""Stage ``train``: refit the best pipeline of the search on every training row and save it.

The model is a pickle of a scikit-learn estimator that takes the feature columns and answers in
the target's own labels, saved sealed (encrypted and authenticated under a key of its own, see
automl/stages/_sealing.py): DVC's cache and remotes only ever hold its ciphertext. With tracking
on it is also logged to the search's MLflow run; the register stage decides whether it becomes
a version of the registered model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import pickle
import time
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn

from automl.data.profile import content_hash
from automl.ensemble import ENSEMBLE, Ensemble
from automl.estimator import refit_best, refit_ensemble, refit_stacked
from automl.families.early_stopping import applies as early_stopping_applies
from automl.labels import encode_classes
from automl.preprocess import plan_columns
from automl.stages._atomic import atomic_outputs
from automl.stages._io import load_tracked_params, read_stage_json
from automl.stages._sealing import governance_session, seal_output
from automl.stages.search import training_table


def run(
    *,
    params_path: str | Path,
    train_in: str | Path,
    checks_in: str | Path,
    best_in: str | Path,
    model_out: str | Path,
    summary_out: str | Path,
) -> dict[str, Any]:
    params = load_tracked_params(params_path)
    checks = read_stage_json(checks_in, made_by="prepare")
    best = read_stage_json(best_in, made_by="search")
    X, y = training_table(train_in, checks, params)
    task = checks["task"]
    classes = None if task == "regression" else encode_classes(y)[0]
    # As the search decided it (automl.search.run_search), from the same rows and folds.
    early_stopping = params.search.early_stopping and early_stopping_applies(
        len(X), params.split.cv_folds
    )
    started = time.perf_counter()
    if best["family"] == ENSEMBLE and best["params"].get("second"):
        chosen = best["params"]
        stacked = Ensemble(
            members=Ensemble.members_from(chosen["members"]), cv_scores=(), rounds=0,
            refit_s=0.0, inputs=Ensemble.members_from(chosen["inputs"]),
            second=Ensemble.members_from(chosen["second"]),
        )  # fmt: skip
        # The second level learns from the first level's out-of-fold answers, computed again
        # on the search's folds (same count, same seed).
        model = refit_stacked(
            X, y.reset_index(drop=True), plan=plan_columns(X), ensemble=stacked, task=task,
            seed=params.search.seed, n_jobs=params.train.n_jobs, classes=classes,
            early_stopping=early_stopping, cv=params.split.cv_folds,
        )  # fmt: skip
    elif best["family"] == ENSEMBLE:
        model = refit_ensemble(
            X, y.reset_index(drop=True), plan=plan_columns(X),
            members=Ensemble.members_from(best["params"]["members"]), task=task,
            seed=params.search.seed, n_jobs=params.train.n_jobs, classes=classes,
            early_stopping=early_stopping,
        )  # fmt: skip
    else:
        model = refit_best(
            X, y.reset_index(drop=True), plan=plan_columns(X), family=best["family"],
            params=best["params"], task=task, seed=params.search.seed,
            n_jobs=params.train.n_jobs, classes=classes,
            early_stopping=early_stopping,
        )  # fmt: skip
    fit_time = time.perf_counter() - started
    buffer = io.BytesIO()
    pickle.dump(model, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    payload = buffer.getvalue()
    summary = {
        "family": best["family"],
        "params": best["params"],
        "task": task,
        "target": checks["target"],
        "features": list(X.columns),
        "classes": None if classes is None else [str(c) for c in classes],
        "rows": len(X),
        "fit_time_s": round(fit_time, 3),
        "model_bytes": len(payload),
        "model_sha256": hashlib.sha256(payload).hexdigest(),
        "scikit_learn": sklearn.__version__,
    }
    session = governance_session(params)
    summary |= {
        "data_hash": content_hash(pd.concat([X, y], axis=1)),
        "trained_by": session.actor,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    run_id = best.get("mlflow_run_id")
    if params.tracking.enabled and run_id:
        from automl.tracking import log_model

        # Logged to the search's run now; registered by the register stage, behind the gates.
        summary |= {
            "mlflow_run_id": run_id,
            "model_uri": log_model(uri=params.tracking.uri, run_id=run_id, model=model, example=X),
        }
    with atomic_outputs() as out:
        sealed = seal_output(out, model_out, payload, params=params, kind="model")
        summary["model_object_id"] = sealed.object_id
        # Who trained which model: the approval's four-eyes check reads it from here.
        session.record(
            "model.train", sealed.object_id, "ok",
            {"model_sha256": summary["model_sha256"], "family": best["family"],
             "data_hash": summary["data_hash"], "mlflow_run_id": run_id or ""},
        )  # fmt: skip
        out.write_json(summary_out, summary)
    return summary
