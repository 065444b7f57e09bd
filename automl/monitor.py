"""Monitoring with Evidently: data drift, data summary, prediction drift and, with labels,
model quality of a current batch against a reference; pass / warn / fail by thresholds.

The only module that imports evidently (0.7 API: ``Report(...).run(current, reference)``,
current first). Drift methods and thresholds are Evidently's own; this module chooses what to
run, reads the snapshot back into a small summary, and applies the conditions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from automl.exceptions import DataError

Status = Literal["pass", "warn", "fail"]
PREDICTION = "__prediction__"
PROBABILITY = "__probability__"

# Our quality names -> (Evidently metric, higher is better)
QUALITY_METRICS: dict[str, tuple[str, bool]] = {
    "accuracy": ("Accuracy", True),
    "precision": ("Precision", True),
    "recall": ("Recall", True),
    "f1": ("F1Score", True),
    "roc_auc": ("RocAuc", True),
    "log_loss": ("LogLoss", False),
    "rmse": ("RMSE", False),
    "mae": ("MAE", False),
    "r2": ("R2Score", True),
}


@dataclass(frozen=True)
class MonitorThresholds:
    """When a batch warns or fails (params.yaml ``monitor``)."""

    drift_share_warn: float = 0.2
    drift_share_fail: float = 0.5
    num_method: str | None = None
    cat_method: str | None = None
    num_threshold: float | None = None
    cat_threshold: float | None = None
    quality: Mapping[str, float] = field(default_factory=dict)
    sample_rows: int | None = 100_000
    seed: int = 0


@dataclass
class MonitorResult:
    status: Status
    summary: dict[str, Any]
    snapshot: Any

    def save(self, *, html: Path | None = None, report_json: Path | None = None) -> None:
        if html is not None:
            self.snapshot.save_html(str(html))
        if report_json is not None:
            self.snapshot.save_json(str(report_json))


def check_batch(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: list[str],
    target: str,
    need_labels: bool,
    where: str = "the current batch",
) -> None:
    """Refuse a batch the model cannot be checked on, naming the columns."""
    if current.empty:
        raise DataError(f"{where} is empty: there is nothing to monitor.")
    missing = [c for c in features if c not in current.columns]
    if missing:
        raise DataError(
            f"{where} lacks the model's feature column(s) {missing}; it must have the columns "
            "the model was trained on."
        )
    extra = [c for c in current.columns if c not in features and c != target]
    if extra:
        raise DataError(
            f"{where} has column(s) the model does not know: {extra}. Drop them, or retrain "
            "with them (ingest the new data and run `dvc repro`)."
        )
    mismatched = []
    for column in features:
        ref_numeric = pd.api.types.is_numeric_dtype(reference[column])
        cur_numeric = pd.api.types.is_numeric_dtype(current[column])
        if ref_numeric != cur_numeric and not current[column].isna().all():
            mismatched.append(f"{column} ({reference[column].dtype} → {current[column].dtype})")
    if mismatched:
        raise DataError(
            f"{where}: column(s) changed type since training: {', '.join(mismatched)}. Fix the "
            "export that produced the batch."
        )
    if need_labels and (target not in current.columns or current[target].isna().all()):
        raise DataError(
            f"{where} has no labels (column {target!r}), but monitor.quality asks for quality "
            "checks; add the labels, or set monitor.quality to {} to check drift only."
        )


def _sample(frame: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    if rows is None or len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _with_predictions(
    frame: pd.DataFrame, model: Any, features: list[str], task: str, classes: list[str] | None
) -> pd.DataFrame:
    out = frame.copy()
    out[PREDICTION] = model.predict(frame[features])
    if task == "binary" and hasattr(model, "predict_proba") and classes:
        out[PROBABILITY] = model.predict_proba(frame[features])[:, 1]
    if task != "regression":
        out[PREDICTION] = out[PREDICTION].astype(str)
    return out


def monitor(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    model: Any,
    task: str,
    target: str,
    features: list[str],
    classes: list[str] | None = None,
    thresholds: MonitorThresholds | None = None,
) -> MonitorResult:
    """Compare ``current`` with ``reference`` and decide pass / warn / fail."""
    from evidently import (
        BinaryClassification,
        DataDefinition,
        Dataset,
        MulticlassClassification,
        Regression,
        Report,
    )
    from evidently.metrics import ValueDrift
    from evidently.presets import (
        ClassificationPreset,
        DataDriftPreset,
        DataSummaryPreset,
        RegressionPreset,
    )

    limits = thresholds or MonitorThresholds()
    unknown = [m for m in limits.quality if m not in QUALITY_METRICS]
    if unknown:
        raise DataError(
            f"monitor.quality: unknown metric(s) {unknown}; use {sorted(QUALITY_METRICS)}"
        )
    labelled = bool(target in current.columns and current[target].notna().any())
    check_batch(reference, current, features=features, target=target,
                need_labels=bool(limits.quality))  # fmt: skip
    ref = _with_predictions(
        _sample(reference, limits.sample_rows, limits.seed), model, features, task, classes
    )
    cur = _with_predictions(
        _sample(current, limits.sample_rows, limits.seed), model, features, task, classes
    )
    if labelled:
        cur = cur[cur[target].notna()]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(reference[c])]
    categorical = [c for c in features if c not in numeric]
    prediction_column = PROBABILITY if PROBABILITY in ref.columns else PREDICTION
    definition_args: dict[str, Any] = {
        "numerical_columns": numeric + ([prediction_column] if task != "multiclass" else []),
        "categorical_columns": categorical + ([PREDICTION] if task == "multiclass" else []),
    }
    quality_preset: list[Any] = []
    if labelled:
        if task == "regression":
            definition_args["regression"] = [Regression(target=target, prediction=PREDICTION)]
            quality_preset = [RegressionPreset()]
        elif task == "binary" and PROBABILITY in ref.columns and classes:
            ref[target] = ref[target].astype(str)
            cur[target] = cur[target].astype(str)
            definition_args["classification"] = [
                BinaryClassification(
                    target=target, prediction_probas=PROBABILITY, pos_label=str(classes[1])
                )
            ]
            quality_preset = [ClassificationPreset()]
        else:
            ref[target] = ref[target].astype(str)
            cur[target] = cur[target].astype(str)
            definition_args["classification"] = [
                MulticlassClassification(target=target, prediction_labels=PREDICTION)
            ]
            quality_preset = [ClassificationPreset()]
        definition_args["categorical_columns"] = [
            *definition_args["categorical_columns"],
            *([target] if task != "regression" else []),
        ]
        if task == "regression":
            definition_args["numerical_columns"] = [*definition_args["numerical_columns"], target]
    definition = DataDefinition(**definition_args)
    drift = DataDriftPreset(
        columns=features,
        drift_share=limits.drift_share_fail,
        num_method=limits.num_method,
        cat_method=limits.cat_method,
        num_threshold=limits.num_threshold,
        cat_threshold=limits.cat_threshold,
    )
    sampled = len(ref) < len(reference) or len(cur) < len(current)
    rows_note = (
        f"reference {len(ref)} of {len(reference)} rows, current {len(cur)} of {len(current)} "
        f"rows" + (f" (seeded samples of at most {limits.sample_rows} rows)" if sampled else "")
    )
    report = Report(
        [drift, DataSummaryPreset(), ValueDrift(column=prediction_column), *quality_preset],
        metadata={"rows": rows_note}, tags=["sampled"] if sampled else [],
        include_tests=True,
    )  # fmt: skip
    reference_set = Dataset.from_pandas(ref[[*features, *_extra(ref, target, labelled)]],
                                        data_definition=definition)  # fmt: skip
    current_set = Dataset.from_pandas(cur[[*features, *_extra(cur, target, labelled)]],
                                      data_definition=definition)  # fmt: skip
    try:
        snapshot = report.run(current_set, reference_set)
    except ValueError as exc:
        raise DataError(f"monitoring could not compare the batches: {exc}") from None
    summary = _summarise(snapshot.dict(), features, prediction_column, limits)
    summary["rows"] = {
        "reference": len(reference), "current": len(current),
        "reference_used": len(ref), "current_used": len(cur),
        "sampled": sampled, "note": rows_note,
        "sample_rows": limits.sample_rows,
    }  # fmt: skip
    summary["labelled"] = bool(labelled)
    return MonitorResult(summary["status"], summary, snapshot)


def _extra(frame: pd.DataFrame, target: str, labelled: bool) -> list[str]:
    columns = [c for c in (PREDICTION, PROBABILITY) if c in frame.columns]
    if labelled and target in frame.columns:
        columns.append(target)
    return columns


def _summarise(
    result: dict[str, Any], features: list[str], prediction_column: str, limits: MonitorThresholds
) -> dict[str, Any]:
    by_column: dict[str, dict[str, Any]] = {}
    metrics = {m["metric_name"]: m for m in result["metrics"]}
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            by_column[config["column"]] = {
                "method": config.get("method"),
                "threshold": config.get("threshold"),
                "score": _number(metric["value"]),
                "drifted": False,
            }
    for test in result["tests"]:
        params = (test.get("metric_config") or {}).get("params", {})
        column = params.get("column")
        if test.get("id") == "drift" and column in by_column:
            by_column[column]["drifted"] = str(test["status"]).endswith("FAIL")
    prediction = by_column.pop(prediction_column, None)
    feature_drift = {c: by_column[c] for c in features if c in by_column}
    drifted = [c for c, v in feature_drift.items() if v["drifted"]]
    share = len(drifted) / len(features) if features else 0.0
    quality = _quality(metrics)
    status, reasons = _decide(
        share, drifted, features, prediction=prediction, quality=quality, limits=limits
    )
    return {
        "status": status,
        "reasons": reasons,
        "drift_share": share,
        "drifted_columns": drifted,
        "columns": feature_drift,
        "prediction_drift": prediction,
        "quality": quality,
    }


def _quality(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for name, (evidently_name, _) in QUALITY_METRICS.items():
        for metric_name, metric in metrics.items():
            value = metric["value"]
            if metric_name.split("(")[0] == evidently_name and isinstance(value, int | float):
                found[name] = float(value)
    return found


def _decide(
    share: float, drifted: list[str], features: list[str], *,
    prediction: Mapping[str, Any] | None, quality: Mapping[str, float],
    limits: MonitorThresholds,
) -> tuple[Status, list[str]]:  # fmt: skip
    reasons: list[str] = []
    status: Status = "pass"
    drifted_text = f"{len(drifted)} of {len(features)} feature columns drifted ({share:.0%} ≥ "
    if share >= limits.drift_share_fail:
        status = "fail"
        reasons.append(f"{drifted_text}{limits.drift_share_fail:.0%}): {', '.join(drifted)}")
    elif share >= limits.drift_share_warn:
        status = "warn"
        reasons.append(f"{drifted_text}{limits.drift_share_warn:.0%}): {', '.join(drifted)}")
    if prediction and prediction["drifted"]:
        status = "fail" if status == "fail" else "warn"
        reasons.append("the model's predictions drifted")
    for name, bound in limits.quality.items():
        value = quality.get(name)
        if value is None:
            continue
        higher = QUALITY_METRICS[name][1]
        if (value < bound) if higher else (value > bound):
            status = "fail"
            relation = "below" if higher else "above"
            reasons.append(f"{name} = {value:.4g} is {relation} the required {bound:g}")
    return status, reasons


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and np.isfinite(value):
        return float(value)
    return None


def summary_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, indent=2, default=str)


def add_to_workspace(snapshot: Any, *, workspace: Path, project: str, name: str) -> str:
    """Add ``snapshot`` to the project ``project`` of the local Evidently workspace (created
    if needed), so that ``evidently ui --workspace <dir>`` shows every monitoring run over
    time; returns the run's id."""
    from evidently.ui.workspace import Workspace

    space = Workspace.create(str(workspace))
    found = space.search_project(project)
    chosen = found[0] if found else space.create_project(project)
    return str(space.add_run(chosen.id, snapshot, include_data=False, name=name).id)
