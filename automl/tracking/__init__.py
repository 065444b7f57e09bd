"""MLflow tracking: the only package that imports mlflow.

- :class:`MlflowSearchTracker` logs a search (parent run) and its trials (nested runs).
- :func:`log_model` logs the trained model to the search's run; :func:`register_model` makes it
  a version of the registered model (the register stage, behind the gates).
- :func:`log_evaluation` adds test metrics and plots to the run.
- :func:`log_monitoring` adds a monitoring run's status, drift and report to the run.
- :func:`check_reachable` fails fast when a tracking server does not answer.
"""

from automl.tracking.connection import TrackingError, check_reachable
from automl.tracking.lineage import dvc_hashes, flatten, git_commit
from automl.tracking.models import (
    log_evaluation,
    log_model,
    log_monitoring,
    register_model,
    tag_run,
)
from automl.tracking.search_runs import MlflowSearchTracker

__all__ = [
    "MlflowSearchTracker",
    "TrackingError",
    "check_reachable",
    "dvc_hashes",
    "flatten",
    "git_commit",
    "log_evaluation",
    "log_model",
    "log_monitoring",
    "register_model",
    "tag_run",
]
