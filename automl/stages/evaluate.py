"""Stage ``evaluate``: score the trained model on the held-out test split.

Writes the test metrics (a DVC metrics file), plot data (``dvc plots show``) and figures, and,
with tracking on, logs them to the search's MLflow run and tags the registered model version.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from automl.config import Params
from automl.evaluate import evaluate_model
from automl.stages._atomic import atomic_outputs
from automl.stages._io import load_tracked_params, read_stage_json, read_stage_parquet
from automl.stages._sealing import read_input, sealed_files
from governance.exceptions import IntegrityError
from governance.sealed import is_sealed


def load_model(path: str | Path, *, trained: dict[str, Any], params: Params) -> Any:
    """The sealed model the train stage wrote, unsealed and unpickled in memory, after
    checking it is the object that stage sealed (not another run's model put in its place)."""
    model_file = Path(path)
    if not model_file.is_file():
        read_stage_json(model_file, made_by="train")  # raises the usual "run dvc repro" error
    expected = trained.get("model_object_id")
    if expected and is_sealed(model_file):
        found = sealed_files(params).stat(model_file).object_id
        if found != expected:
            raise IntegrityError(
                f"{model_file} holds sealed object {found!r}, but the train stage sealed "
                f"{expected!r}: the model was swapped. Restore it with `dvc checkout "
                f"{model_file.as_posix()}` or rebuild it with `dvc repro --force train`."
            )
    payload = read_input(model_file, made_by="train", params=params, require_sealed=True)
    if expected and hashlib.sha256(payload).hexdigest() != trained.get("model_sha256"):
        raise IntegrityError(
            f"{model_file} is not the model the train stage recorded (its SHA-256 differs): "
            "rebuild it with `dvc repro --force train`."
        )
    return pickle.loads(payload)


def run(
    *,
    params_path: str | Path,
    test_in: str | Path,
    checks_in: str | Path,
    model_in: str | Path,
    best_in: str | Path,
    train_summary_in: str | Path,
    metrics_out: str | Path,
    plots_out: str | Path,
    figures_out: str | Path,
) -> dict[str, Any]:
    params = load_tracked_params(params_path)
    checks = read_stage_json(checks_in, made_by="prepare")
    best = read_stage_json(best_in, made_by="search")
    trained = read_stage_json(train_summary_in, made_by="train")
    test = read_stage_parquet(test_in, made_by="prepare", params=params)
    model = load_model(model_in, trained=trained, params=params)
    features = [f["name"] for f in checks["features"]]
    with atomic_outputs() as out:
        plots, figures = out.directory(plots_out), out.directory(figures_out)
        scores = evaluate_model(
            model,
            test[features],
            test[checks["target"]],
            task=checks["task"],
            metric=best["metric"],
            seed=params.search.seed,
            plots_dir=plots,
            figures_dir=figures,
        )
        metric = best["metric"]
        # The search's metric first, then its CV estimate and the gap: an overfit search
        # shows as a large positive gap.
        report = {
            "metric": metric,
            metric: scores[metric],
            f"cv_{metric}": best["cv_mean"],
            "cv_test_gap": best["cv_mean"] - scores[metric],
            "rows": len(test),
            **{k: v for k, v in scores.items() if k != metric},
        }
        out.write_json(metrics_out, report)
        run_id = best.get("mlflow_run_id")
        if params.tracking.enabled and run_id:
            from automl.tracking import log_evaluation

            log_evaluation(
                uri=params.tracking.uri,
                run_id=run_id,
                metrics=scores,
                extra_metrics={"cv_test_gap": report["cv_test_gap"]},
                folder=figures,
                registered_model=trained.get("registered_model"),
                model_version=trained.get("model_version"),
            )
    return report
