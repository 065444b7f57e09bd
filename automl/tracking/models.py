"""The trained model in MLflow: logged with a signature and example, then registered; the
evaluation and monitoring of it on its run."""

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


def log_model(*, uri: str, run_id: str, model: Any, example: pd.DataFrame) -> str:
    """Log ``model`` to run ``run_id`` with its signature, an input example and pinned
    requirements; return its model URI (registration comes later, behind the gates)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(uri)
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
    except MlflowException as exc:
        raise TrackingError(
            f"tracking: MLflow refused the model ({str(exc).splitlines()[0]})."
        ) from None
    return str(info.model_uri)


def register_model(*, uri: str, model_uri: str, registered_model: str, tags: dict[str, str]) -> str:
    """A new version of ``registered_model`` for the logged model; return its number."""
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            registered = mlflow.register_model(model_uri, registered_model, tags=tags)
    except MlflowException as exc:
        raise TrackingError(
            f"tracking: MLflow refused to register {registered_model!r} "
            f"({str(exc).splitlines()[0]})."
        ) from None
    return str(registered.version)


def tag_run(*, uri: str, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    client(uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def log_evaluation(
    *,
    uri: str,
    run_id: str,
    metrics: dict[str, float],
    extra_metrics: dict[str, float] | None = None,
    folder: Path,
) -> None:
    """Test metrics (as ``test_*``, plus ``extra_metrics`` as named) and the evaluation's files
    on the run."""
    from mlflow.entities import Metric

    mlflow_client = client(uri)
    now = int(time.time() * 1000)
    batch = [Metric(f"test_{k}", float(v), now, 0) for k, v in metrics.items()]
    batch += [Metric(k, float(v), now, 0) for k, v in (extra_metrics or {}).items()]
    for start in range(0, len(batch), 1000):
        mlflow_client.log_batch(run_id, metrics=batch[start : start + 1000])
    mlflow_client.log_artifacts(run_id, str(folder), artifact_path="evaluation")


def log_monitoring(*, uri: str, run_id: str, summary: dict[str, Any], folder: Path) -> None:
    """A monitoring run's drift share and quality as ``monitor_*`` metrics, its report and
    summary under ``monitoring/``, and its status as a tag of the run."""
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
