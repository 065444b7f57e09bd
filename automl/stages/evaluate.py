"""Stage ``evaluate``: score the trained model on the held-out test split.

Writes the test metrics with bootstrap confidence intervals (a DVC metrics file), metrics per
group of each sensitive attribute with the gaps between groups (``evaluate.groups``), plot data
(``dvc plots show``) and figures, and, with tracking on, logs them to the search's MLflow run.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from automl.config import GroupParams, Params
from automl.evaluate import bootstrap_intervals, evaluate_model, group_figure
from automl.exceptions import DataError
from automl.fairness import compare_groups, group_labels
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
    fairness_out: str | Path,
    plots_out: str | Path,
    figures_out: str | Path,
    show_progress: bool = True,
) -> dict[str, Any]:
    params = load_tracked_params(params_path)
    checks = read_stage_json(checks_in, made_by="prepare")
    best = read_stage_json(best_in, made_by="search")
    trained = read_stage_json(train_summary_in, made_by="train")
    test = read_stage_parquet(test_in, made_by="prepare", params=params)
    model = load_model(model_in, trained=trained, params=params)
    features = [f["name"] for f in checks["features"]]
    settings = params.evaluate
    groups = _group_columns(test, params)
    with atomic_outputs() as out:
        plots, figures = out.directory(plots_out), out.directory(figures_out)
        metric = best["metric"]
        scores, predictions = evaluate_model(
            model, test[features], test[checks["target"]], task=checks["task"], metric=metric,
            seed=params.search.seed, plots_dir=plots, figures_dir=figures,
        )  # fmt: skip
        # The search's metric first, then its CV estimate and the gap: an overfit search
        # shows as a large positive gap.
        report: dict[str, Any] = {
            "metric": metric,
            metric: scores[metric],
            f"cv_{metric}": best["cv_mean"],
            "cv_test_gap": best["cv_mean"] - scores[metric],
            "rows": len(test),
            **{k: v for k, v in scores.items() if k != metric},
        }
        if settings.bootstrap:
            with Progress(
                TextColumn("bootstrap intervals"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(), transient=True, disable=not show_progress,
            ) as progress:  # fmt: skip
                bar = progress.add_task("bootstrap", total=settings.bootstrap)
                report["intervals"] = bootstrap_intervals(
                    predictions, metric=metric, resamples=settings.bootstrap,
                    confidence=settings.confidence, seed=settings.seed, n_jobs=settings.n_jobs,
                    on_progress=lambda done: progress.advance(bar, done),
                )  # fmt: skip
        fairness = {
            "metric": metric,
            "attributes": {
                spec.column: compare_groups(
                    predictions, labels, metric=metric, min_group_size=settings.min_group_size
                )
                | {"bands": spec.bands}
                for spec, labels in groups
            },
        }
        for column, found in fairness["attributes"].items():
            group_figure(column, found, figures / f"groups_{_file_safe(column)}.png")
        out.write_json(metrics_out, report)
        out.write_json(fairness_out, fairness)
        run_id = best.get("mlflow_run_id")
        if params.tracking.enabled and run_id:
            from automl.tracking import log_evaluation

            gaps = {
                f"fairness_{column}_{name}": value
                for column, found in fairness["attributes"].items()
                for name, value in found["gaps"].items()
                if value is not None
            }
            log_evaluation(
                uri=params.tracking.uri,
                run_id=run_id,
                metrics=scores,
                extra_metrics={"cv_test_gap": report["cv_test_gap"], **gaps},
                folder=figures,
            )
    return report


def _group_columns(test: pd.DataFrame, params: Params) -> list[tuple[GroupParams, pd.Series]]:
    """The configured sensitive attributes, as one group label per test row."""
    found = []
    for index, spec in enumerate(params.evaluate.groups):
        where = f"evaluate.groups[{index}]"
        if spec.column not in test.columns:
            raise DataError(
                f"{where}: column {spec.column!r} is not in the test split. If the model must "
                "not use it, list it in prepare.protected_columns (kept for this comparison, "
                "never a feature) rather than in prepare.drop_columns."
            )
        found.append((spec, group_labels(test[spec.column], bands=spec.bands, where=where)))
    return found


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60] or "column"
