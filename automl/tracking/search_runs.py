"""A search in MLflow: one parent run, one nested child run per Optuna trial.

In a shared study (:mod:`automl.shared_study`) the coordinator owns the parent run and each
worker attaches to it (``attach_to``): every process logs the trials it ran as children of the
one parent, so the UI shows one search however many hosts ran it.

Child runs are written by a background thread while the trials run in their worker processes,
one ``log_batch`` per trial (never one transaction per value), so tracking costs the search
almost no wall time. Parameters keep the search's namespaced names (``lightgbm.num_leaves``),
so MLflow's compare view lines the same hyperparameter up across runs.
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord
from automl.tracking.connection import TrackingError, client, experiment_id

logger = logging.getLogger(__name__)

# MLflow's limits per log_batch request.
_MAX_PARAMS, _MAX_TAGS, _MAX_METRICS = 100, 100, 1000
_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
_PLOTS = ("optimization_history", "param_importances", "parallel_coordinate")
# The study user attribute naming a shared search's parent run, for workers to attach to.
MLFLOW_RUN = "automl.mlflow_run"


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MlflowSearchTracker(SearchObserver):
    """Logs a search to MLflow. Create it before the search: it checks the server first."""

    def __init__(
        self,
        *,
        uri: str,
        experiment: str,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        dataset: pd.DataFrame | None = None,
        dataset_name: str = "train",
        dataset_source: str | None = None,
        target: str | None = None,
        sealed_artifacts: bool = False,
        attach_to: str | None = None,
    ) -> None:
        self.client = client(uri)
        self.attached = attach_to is not None
        if attach_to is not None:
            self.experiment_id = self.client.get_run(attach_to).info.experiment_id
        else:
            self.experiment_id = experiment_id(
                self.client, experiment, sealed_artifacts=sealed_artifacts
            )
        self.params = params or {}
        self.tags = tags or {}
        self.dataset = dataset
        self.dataset_name = dataset_name
        self.dataset_source = dataset_source
        self.target = target
        self.run_id: str | None = attach_to
        self._queue: queue.Queue[TrialRecord | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._errors: list[str] = []
        self._trial_runs: dict[int, str] = {}  # trial number -> its MLflow run
        self.logged_trials = 0

    # -- observer hooks -------------------------------------------------------------------

    def on_search_start(self, start: SearchStart) -> None:
        from mlflow.entities import Param, RunTag

        if self.attached:
            # A worker: the parent and the earlier trials are the coordinator's to log.
            self._start_writer()
            return
        self._close_stale_runs(start.study_name)
        tags = {
            "mlflow.runName": f"search {start.study_name}",
            "automl.kind": "search",
            "automl.study_name": start.study_name,
            "automl.storage": start.storage,
            "automl.task": start.task,
            "automl.metric": start.metric,
            "automl.families": ",".join(start.families),
            **{f"automl.skipped.{k}": v for k, v in start.skipped.items()},
            **self.tags,
        }
        run = self.client.create_run(self.experiment_id, tags=tags)
        self.run_id = run.info.run_id
        params = [Param(k, v[:6000]) for k, v in sorted(self.params.items())]
        for chunk in _chunks(params, _MAX_PARAMS):
            self.client.log_batch(self.run_id, params=chunk)
        self.client.log_batch(
            self.run_id,
            tags=[
                RunTag("automl.n_rows", str(start.n_rows)),
                RunTag("automl.n_features", str(start.n_features)),
                RunTag("automl.cv", str(start.cv)),
            ],
        )
        if self.dataset is not None:
            self._log_dataset()
        self._start_writer()
        for record in start.earlier:
            self._queue.put(record)

    def shared_attrs(self) -> dict[str, Any]:
        """Workers attach their trial runs to this search's parent run."""
        return {} if self.attached or self.run_id is None else {MLFLOW_RUN: self.run_id}

    def on_trial_end(self, record: TrialRecord, best: TrialRecord | None) -> None:
        self._queue.put(record)

    def on_search_end(self, end: SearchEnd) -> None:
        from mlflow.entities import Metric, RunTag

        self._drain()
        assert self.run_id is not None
        if self.attached:
            self._raise_errors()
            return
        now = int(time.time() * 1000)
        metrics = [
            Metric("trials_complete", end.n_complete, now, 0),
            Metric("trials_pruned", end.n_pruned, now, 0),
            Metric("trials_failed", end.n_failed, now, 0),
            Metric("search_duration_s", end.duration_s, now, 0),
        ]
        tags = [RunTag("automl.stopped_by", end.stopped_by)]
        if end.best is not None and end.best.cv_mean is not None:
            metrics += [Metric("best_cv_score", end.best.cv_mean, now, 0)]
            if end.best.cv_std is not None:
                metrics += [Metric("best_cv_std", end.best.cv_std, now, 0)]
            tags += [
                RunTag("automl.best_family", end.best.family),
                RunTag("automl.best_trial", str(end.best.number)),
            ]
        if end.ensemble is not None:
            metrics += [
                Metric("ensemble_cv_score", end.ensemble.cv_mean, now, 0),
                Metric("ensemble_cv_std", end.ensemble.cv_std, now, 0),
                Metric("ensemble_members", len(end.ensemble.members), now, 0),
                Metric("ensemble_second_level_members", len(end.ensemble.second), now, 0),
            ]
            tags += [
                RunTag("automl.model", "ensemble"),
                RunTag("automl.ensemble", ", ".join(end.ensemble.describe())[:5000]),
            ]
            self._mark_members(end.ensemble.weights(), now)
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
        self._raise_errors()

    def _raise_errors(self) -> None:
        if self._errors:
            raise TrackingError(
                f"{len(self._errors)} of the search's trials could not be logged to MLflow "
                f"(first error: {self._errors[0]}). The trials are kept in the Optuna study: "
                "rerun the search to log them again."
            )

    # -- after the search -----------------------------------------------------------------

    def log_search_artifacts(self, leaderboard: pd.DataFrame, study: Any) -> None:
        """The leaderboard CSV and Optuna's plots (self-contained HTML) on the parent run."""
        assert self.run_id is not None
        with tempfile.TemporaryDirectory(prefix="automl-mlflow-") as tmp:
            folder = Path(tmp) / "search"
            folder.mkdir()
            leaderboard.to_csv(folder / "leaderboard.csv", index=False)
            for name, figure in _optuna_plots(study).items():
                # The plotly library is embedded so the plots open without a network.
                figure.write_html(folder / f"{name}.html", include_plotlyjs=True)
            self.client.log_artifacts(self.run_id, str(folder), artifact_path="search")
        self.client.set_terminated(self.run_id, status="FINISHED")

    # -- internals ------------------------------------------------------------------------

    def _mark_members(self, weights: dict[int, float], now: int) -> None:
        """Each member trial's run gets its weight, so the UI can sort and filter by it."""
        from mlflow.entities import Metric, RunTag

        for trial, weight in weights.items():
            run_id = self._trial_runs.get(trial)
            if run_id is None:
                continue
            try:
                self.client.log_batch(
                    run_id,
                    metrics=[Metric("ensemble_weight", weight, now, 0)],
                    tags=[RunTag("automl.ensemble_member", "true")],
                )
            except Exception as exc:  # reported with the trials' errors, once, at the end
                self._errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

    def _log_dataset(self) -> None:
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.entities import DatasetInput, InputTag

        assert self.run_id is not None and self.dataset is not None
        with warnings.catch_warnings():
            # Schema hints about integer columns and source guessing are not for our users.
            warnings.simplefilter("ignore")
            dataset = from_pandas(
                self.dataset,
                source=self.dataset_source or "in-memory DataFrame",
                name=self.dataset_name,
                targets=self.target,
            )
            entity = DatasetInput(
                dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "training")]
            )
        self.client.log_inputs(self.run_id, datasets=[entity])

    def _close_stale_runs(self, study_name: str) -> None:
        """Parent runs of this study left RUNNING by a killed process are marked KILLED."""
        stale = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`automl.study_name` = '{study_name}' and attributes.status = 'RUNNING'"
            ),
            max_results=100,
        )
        for run in stale:
            self.client.set_terminated(run.info.run_id, status="KILLED")

    def _write(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                self._log_trial(record)
                self.logged_trials += 1
            except Exception as exc:  # a tracking hiccup must not kill the search
                self._errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                logger.warning("could not log trial to MLflow: %s", self._errors[-1])
            finally:
                self._queue.task_done()

    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._write, name="mlflow-trials", daemon=True)
        self._writer.start()

    def _drain(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None

    def _log_trial(self, record: TrialRecord) -> None:
        from mlflow.entities import Metric, Param

        assert self.run_id is not None
        start_ms = int((record.started_at or time.time()) * 1000)
        tags = {
            "mlflow.parentRunId": self.run_id,
            "mlflow.runName": f"trial {record.number} {record.family}",
            "automl.kind": "trial",
            "automl.trial": str(record.number),
            "automl.family": record.family,
            "automl.state": record.state,
        }
        if record.worker:
            tags["automl.worker"] = record.worker
        if record.retry_of is not None:
            tags["automl.retry_of"] = str(record.retry_of)
        if record.reason:
            tags["automl.reason"] = record.reason[:5000]
        run = self.client.create_run(self.experiment_id, start_time=start_ms, tags=tags)
        self._trial_runs[record.number] = run.info.run_id
        params = [Param("family", record.family)] + [
            Param(f"{record.family}.{k}", str(v)[:6000]) for k, v in sorted(record.params.items())
        ]
        values: dict[str, float] = {
            "fit_time_s": record.fit_time_s,
            "predict_time_s": record.predict_time_s,
            "duration_s": record.duration_s,
            "folds_done": float(len(record.cv_scores)),
        }
        if record.cv_mean is not None:
            values["cv_mean"] = record.cv_mean
        if record.cv_std is not None:
            values["cv_std"] = record.cv_std
        values.update({f"cv_fold_{i + 1}": s for i, s in enumerate(record.cv_scores)})
        metrics = [Metric(k, float(v), start_ms, 0) for k, v in values.items()]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params[:_MAX_PARAMS])
        end_ms = start_ms + int(record.duration_s * 1000)
        self.client.set_terminated(run.info.run_id, status=_STATUS[record.state], end_time=end_ms)


def _optuna_plots(study: Any) -> dict[str, Any]:
    """Optuna's standard plots of a study; a plot Optuna cannot draw for it is left out."""
    from optuna import visualization

    figures: dict[str, Any] = {}
    for name in _PLOTS:
        try:
            with warnings.catch_warnings():
                # Importance estimates warn about conditional parameters; the plot is still right.
                warnings.simplefilter("ignore")
                figures[name] = getattr(visualization, f"plot_{name}")(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances need two complete trials
            logger.info("no %s plot: %s", name, exc)
    return figures
