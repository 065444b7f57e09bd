"""``automl worker``: run trials of a search that another process coordinates.

The coordinator is the pipeline's ``search`` stage with ``search.shared: true`` and a
PostgreSQL storage. A worker reads the same params.yaml and prepared training data from its own
checkout (``git checkout`` of the coordinator's commit, then ``dvc pull``), computes the study's
name from them exactly as the stage does, and joins that study: a worker whose data or search
settings differ computes another name and is refused, instead of adding trials scored on
something else. It then runs trials until the study holds all it was asked for, is closed, or
its time is over, and logs each trial to MLflow under the coordinator's search run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
from pydantic import ValidationError

from automl.config import Params, SearchParams, is_server_storage, load_params
from automl.config_messages import format_error
from automl.events import SearchObserver
from automl.exceptions import ConfigError, DataError, SearchError
from automl.redact import redact_url
from automl.search import run_worker_trials
from automl.shared_study import STATUS, StudyFull
from automl.stages._io import read_stage_json
from automl.stages.search import study_name, training_table

# Where a worker looks for its storage URL when neither --storage nor params.yaml has one.
STORAGE_ENV = "AUTOML_STORAGE"


@dataclass(frozen=True)
class WorkerReport:
    study_name: str
    trials_run: int
    stopped_by: str


def run_worker(
    *,
    params_path: str | Path,
    train_in: str | Path,
    checks_in: str | Path,
    storage: str | None = None,
    study: str | None = None,
    n_jobs: int | None = None,
    wait_s: float = 0.0,
    observers: Sequence[SearchObserver] = (),
    clock: Callable[[], float] = time.monotonic,
) -> WorkerReport:
    """Join the open study these params and this data define, and run its trials."""
    params = load_params(params_path)
    url = storage or os.environ.get(STORAGE_ENV) or params.search.storage
    if not is_server_storage(url):
        raise ConfigError(
            f"automl worker needs the coordinator's storage on a database server: pass "
            f"--storage postgresql://user@host/db (or set {STORAGE_ENV}, or search.storage); "
            f"got {redact_url(url) if url else 'none'}"
        )
    overrides: dict[str, object] = {"storage": url}
    if n_jobs is not None:
        overrides["n_jobs"] = n_jobs
    try:
        settings = SearchParams.model_validate({**params.search.model_dump(), **overrides})
    except ValidationError as exc:
        lines = [f"search.{format_error(e, SearchParams)}" for e in exc.errors()]
        raise ConfigError("automl worker: " + "\n".join(lines)) from None
    checks = read_stage_json(checks_in, made_by="prepare")
    X, y = training_table(train_in, checks, params)
    name = study_name(params, checks, X, y)
    if study is not None and study not in (name, params.search.study_name):
        raise DataError(
            f"study {study} was not made on this data and these search settings: here they "
            f"define study {name}. Check out the coordinator's commit and run `dvc pull`, so "
            f"that params.yaml and {train_in} are the ones it searched on"
        )
    wait_until_open(url, name, wait_s, clock=clock)
    settings = settings.model_copy(update={"study_name": name})
    tracker = _attached_tracker(params, url, name)
    try:
        outcome = run_worker_trials(
            X, y, task=checks["task"], settings=settings, cv=params.split.cv_folds,
            observers=(*observers, *tracker),
        )  # fmt: skip
    except StudyFull as full:
        return WorkerReport(name, 0, str(full))
    return WorkerReport(name, outcome.trials_run, outcome.stopped_by)


def wait_until_open(
    url: str, name: str, wait_s: float, *, clock: Callable[[], float] = time.monotonic
) -> None:
    """Wait up to ``wait_s`` for the coordinator to open study ``name``."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    until = clock() + wait_s
    engine = create_engine(url)
    # One storage for all polls, made once Optuna's tables exist: each RDBStorage opens its own
    # connection pool and checks the schema's version.
    storage: optuna.storages.RDBStorage | None = None
    try:
        while True:
            try:
                # Optuna creates its tables on first use, and creators racing on an empty
                # database collide: a worker waits for the coordinator's (the version table is
                # made last) instead of making them itself.
                if storage is None and inspect(engine).has_table("alembic_version"):
                    storage = optuna.storages.RDBStorage(url)
                if storage is not None and _is_open(storage, name):
                    return
            except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
                if clock() >= until:
                    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                    raise SearchError(
                        f"cannot reach the study's database {redact_url(url)}: {reason}"
                    ) from None
            if clock() >= until:
                raise SearchError(
                    f"no open study {name} in {redact_url(url)}: start the coordinator (dvc "
                    f"repro with search.shared: true and this storage) or let the worker wait "
                    f"for it with --wait-s"
                )
            time.sleep(1.0)
    finally:
        if storage is not None:
            storage.engine.dispose()
        engine.dispose()


def _is_open(storage: optuna.storages.RDBStorage, name: str) -> bool:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return False
    return storage.get_study_user_attrs(study_id).get(STATUS) == "open"


def _attached_tracker(params: Params, url: str, name: str) -> tuple[SearchObserver, ...]:
    """The MLflow tracker that logs this worker's trials under the coordinator's run."""
    from automl.tracking.search_runs import MLFLOW_RUN

    if not params.tracking.enabled:
        return ()
    run_id = optuna.load_study(study_name=name, storage=url).user_attrs.get(MLFLOW_RUN)
    if run_id is None:
        return ()
    from automl.stages._sealing import route_tracking_artifacts
    from automl.tracking import MlflowSearchTracker

    route_tracking_artifacts(params)
    return (
        MlflowSearchTracker(
            uri=params.tracking.uri,
            experiment=params.tracking.experiment,
            attach_to=str(run_id),
        ),
    )
