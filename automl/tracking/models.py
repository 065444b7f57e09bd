"""The trained model in MLflow: logged with a signature and example, registered, aliased."""

from __future__ import annotations

import logging
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from automl.tracking.connection import TrackingError, client

logger = logging.getLogger(__name__)

CANDIDATE = "candidate"
# What loading the model needs; pinned to what trained it (inferring them costs seconds).
_REQUIREMENTS = (
    "automl-governance",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "lightgbm",
    "xgboost",
    "cloudpickle",
)


def _pinned() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins


def log_and_register_model(
    *,
    uri: str,
    run_id: str,
    model: Any,
    example: pd.DataFrame,
    registered_model: str,
    tags: dict[str, str],
) -> dict[str, str]:
    """Log ``model`` to run ``run_id``, register a new version with ``tags`` and alias it
    ``candidate``; return the model URI and version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    mlflow_client = client(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    sample = example.head(100)
    # Integer columns become doubles in the signature: a missing value at serving time
    # turns an integer column into floats, which an integer schema would refuse.
    whole = sample.select_dtypes(include="integer").columns
    sample = sample.astype(dict.fromkeys(whole, "float64"))
    try:
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            # cloudpickle is chosen on purpose (see below) and integer columns are handled
            # above; MLflow warns about both every time.
            warnings.simplefilter("ignore")
            logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
            signature = infer_signature(sample, model.predict(sample))
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=sample.head(5),
                pip_requirements=_pinned(),
                # Our pipeline classes are not in skops' trusted list; the model is ours.
                serialization_format="cloudpickle",
            )
        registered = mlflow.register_model(info.model_uri, registered_model, tags=tags)
        mlflow_client.set_registered_model_alias(registered_model, CANDIDATE, registered.version)
    except MlflowException as exc:
        raise TrackingError(
            f"tracking: MLflow refused the model ({str(exc).splitlines()[0]})."
        ) from None
    return {"model_uri": info.model_uri, "version": str(registered.version)}


def log_evaluation(
    *,
    uri: str,
    run_id: str,
    metrics: dict[str, float],
    extra_metrics: dict[str, float] | None = None,
    folder: Path,
    registered_model: str | None = None,
    model_version: str | None = None,
) -> None:
    """Test metrics (as ``test_*``, plus ``extra_metrics`` as named) and the evaluation's files
    on the run; the test metrics also as tags of the model version, so the registry shows them."""
    from mlflow.entities import Metric

    mlflow_client = client(uri)
    now = int(time.time() * 1000)
    batch = [Metric(f"test_{k}", float(v), now, 0) for k, v in metrics.items()]
    batch += [Metric(k, float(v), now, 0) for k, v in (extra_metrics or {}).items()]
    for start in range(0, len(batch), 1000):
        mlflow_client.log_batch(run_id, metrics=batch[start : start + 1000])
    mlflow_client.log_artifacts(run_id, str(folder), artifact_path="evaluation")
    if registered_model and model_version:
        for key, value in metrics.items():
            mlflow_client.set_model_version_tag(
                registered_model, model_version, f"test_{key}", f"{value:.6g}"
            )


def log_monitoring(
    *,
    uri: str,
    run_id: str,
    summary: dict[str, Any],
    folder: Path,
    registered_model: str | None = None,
    model_version: str | None = None,
) -> None:
    """A monitoring run's drift share and quality as ``monitor_*`` metrics, its report and
    summary under ``monitoring/``, and its status as a tag of the run and the model version."""
    from mlflow.entities import Metric, RunTag

    mlflow_client = client(uri)
    now = int(time.time() * 1000)
    values = {"monitor_drift_share": summary["drift_share"]}
    values |= {f"monitor_{k}": v for k, v in summary.get("quality", {}).items()}
    step = len(mlflow_client.get_metric_history(run_id, "monitor_drift_share"))
    batch = [Metric(k, float(v), now, step) for k, v in values.items()]
    mlflow_client.log_batch(
        run_id, metrics=batch, tags=[RunTag("monitor_status", str(summary["status"]))]
    )
    mlflow_client.log_artifacts(run_id, str(folder), artifact_path="monitoring")
    if registered_model and model_version:
        mlflow_client.set_model_version_tag(
            registered_model, model_version, "monitor_status", str(summary["status"])
        )
