"""Stage ``monitor`` (and ``automl monitor``): check a batch against the training data.

The reference is the training split; the current batch is the test split unless
``monitor.current`` names a source (a file or an SQL query, as ``ingest.source`` does) or the
command line gives a file. Outputs: Evidently's HTML report and its JSON, and a summary JSON
(DVC metrics: status, drift share, drifted columns, quality). Each run is also added to the
local Evidently workspace (``monitor.workspace``) and, with tracking on, logged to the model's
MLflow run. The stage records a failed check and succeeds; ``automl monitor`` exits 1 on it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from automl.config import Params
from automl.data.schema import normalize_frame
from automl.data.sources import load_source
from automl.exceptions import DataError
from automl.monitor import MonitorResult, MonitorThresholds, add_to_workspace, monitor
from automl.stages._atomic import atomic_outputs
from automl.stages._io import load_tracked_params, read_stage_json, read_stage_parquet
from automl.stages.evaluate import load_model

log = logging.getLogger(__name__)


def read_batch(path: str | Path) -> pd.DataFrame:
    """A batch file given on the command line: CSV (any compression) or Parquet."""
    from automl.config import CsvSource, ParquetSource

    file = Path(path)
    if not file.is_file():
        raise DataError(f"--current {file}: no such file")
    if file.suffix.lower() in (".parquet", ".pq"):
        return load_source(ParquetSource(type="parquet", path=str(file)))
    return load_source(CsvSource(type="csv", path=str(file)))


def run(
    *,
    params_path: str | Path,
    train_in: str | Path,
    test_in: str | Path,
    checks_in: str | Path,
    model_in: str | Path,
    train_summary_in: str | Path,
    summary_out: str | Path,
    report_out: str | Path,
    report_json_out: str | Path,
    current: pd.DataFrame | None = None,
    current_name: str | None = None,
) -> MonitorResult:
    params = load_tracked_params(params_path)
    checks = read_stage_json(checks_in, made_by="prepare")
    trained = read_stage_json(train_summary_in, made_by="train")
    model = load_model(model_in, trained=trained, params=params)
    reference = read_stage_parquet(train_in, made_by="prepare", params=params)
    if current is None:
        current, current_name = _configured_batch(params, test_in)
    target = checks["target"]
    features = [f["name"] for f in checks["features"]]
    # Columns prepare dropped on purpose (identifiers, constants) may come with a raw batch.
    dropped = {d["column"] for d in checks.get("dropped_columns", [])}
    current = current.drop(columns=[c for c in current.columns if c in dropped])
    settings = params.monitor
    result = monitor(
        reference, current, model=model, task=checks["task"], target=target, features=features,
        classes=checks.get("classes"),
        thresholds=MonitorThresholds(
            drift_share_warn=settings.drift_share_warn,
            drift_share_fail=settings.drift_share_fail,
            num_method=settings.num_method, cat_method=settings.cat_method,
            num_threshold=settings.num_threshold, cat_threshold=settings.cat_threshold,
            quality=settings.quality, sample_rows=settings.sample_rows, seed=settings.seed,
        ),
    )  # fmt: skip
    result.summary["current_batch"] = current_name
    result.summary["checked_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with atomic_outputs() as out:
        html, report_json = out.path_for(report_out), out.path_for(report_json_out)
        result.save(html=html, report_json=report_json)
        out.write_json(summary_out, result.summary)
    _record(params, result, trained, summary_out, report_out)
    return result


def _configured_batch(params: Params, test_in: str | Path) -> tuple[pd.DataFrame, str]:
    source = params.monitor.current
    if source is None:
        return read_stage_parquet(test_in, made_by="prepare", params=params), str(test_in)
    frame, _ = normalize_frame(load_source(source))
    return frame, f"monitor.current ({source.type})"


def _record(
    params: Params, result: MonitorResult, trained: dict[str, Any], summary: str | Path,
    report: str | Path,
) -> None:  # fmt: skip
    """The run in the audit log (reports show the latest), the Evidently workspace, and the
    model's MLflow run."""
    from automl.dossier import sha256_of
    from automl.stages._sealing import governance_session

    governance_session(params).record(
        "model.monitor", str(trained.get("model_object_id", "")), result.status,
        {"batch": str(result.summary.get("current_batch")),
         "drift_share": float(result.summary["drift_share"]),
         "report_sha256": sha256_of(Path(report)) or ""},
    )  # fmt: skip
    if params.monitor.workspace:
        add_to_workspace(
            result.snapshot, workspace=Path(params.monitor.workspace),
            project=params.tracking.experiment,
            name=f"{result.status} {result.summary['checked_at']}",
        )  # fmt: skip
    run_id = trained.get("mlflow_run_id")
    if params.tracking.enabled and run_id:
        import shutil
        import tempfile

        from automl.tracking import log_monitoring

        with tempfile.TemporaryDirectory() as folder:
            shutil.copy(report, Path(folder) / "report.html")
            shutil.copy(summary, Path(folder) / "summary.json")
            log_monitoring(
                uri=params.tracking.uri, run_id=run_id, summary=result.summary,
                folder=Path(folder),
            )  # fmt: skip
