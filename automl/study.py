"""Opening (or resuming) the Optuna study of a search: sampler, pruner, storage."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

from automl.exceptions import SearchError
from automl.redact import redact_url

# Trials whose running mean falls in the bottom quarter at the same fold are pruned
# (Optuna's PercentilePruner takes the share of trials to keep).
PRUNE_PERCENTILE = 25.0


def open_study(
    *,
    storage: str | None,
    study_name: str | None,
    seed: int,
    pruning: bool,
    pruner: str = "percentile",
    heartbeat: Heartbeat | None = None,
) -> optuna.Study:
    """Create the study, or load it when one of that name exists in ``storage``.

    ``seed`` seeds the sampler: processes sharing a study need different ones, or they would
    all propose the same startup trials. The constant liar makes each process's TPE count the
    trials still running anywhere as bad, so parallel workers spread out instead of piling
    onto the same promising point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # group=True splits the space by family, so TPE models each family's own parameters.
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=10
        )
    chosen: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if pruning and pruner == "hyperband":
        # Folds are the resource: rungs after 1 and 3 folds keep the best third.
        chosen = optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    elif pruning:
        chosen = optuna.pruners.PercentilePruner(
            100.0 - PRUNE_PERCENTILE, n_startup_trials=5, n_warmup_steps=0
        )
    with quiet_optuna():
        try:
            return optuna.create_study(
                storage=_storage(storage, heartbeat or Heartbeat()),
                study_name=study_name,
                sampler=sampler,
                pruner=chosen,
                direction="maximize",
                load_if_exists=True,
            )
        # RuntimeError: Optuna's schema check, e.g. a database another application's tables
        # (MLflow's alembic_version) share; Optuna needs a database of its own.
        except (
            ValueError,
            ImportError,
            RuntimeError,
            optuna.exceptions.StorageInternalError,
            SQLAlchemyError,  # e.g. the database server cannot be reached
        ) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SearchError(
                f"cannot open the Optuna study in storage {redact_url(storage)}: {reason}"
            ) from None


@dataclass(frozen=True)
class Heartbeat:
    """How a database-server storage tells a dead worker's trials (automl.shared_study)."""

    interval_s: int = 10
    grace_s: int = 60
    max_retry: int = 2


def _storage(url: str | None, heartbeat: Heartbeat) -> Any:
    if url is None:
        return None
    if url.endswith((".log", ".journal")) and "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStorage(url)
    if url.startswith(("postgresql", "mysql")):
        from automl.shared_study import SharedStorage

        # Heartbeats let other workers take over trials of a worker that died.
        return SharedStorage(
            url,
            heartbeat_interval_s=heartbeat.interval_s,
            grace_period_s=heartbeat.grace_s,
            max_retry=heartbeat.max_retry,
        )
    return url


class SQLiteStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage on SQLite, safe for the trial threads of one process.

    Optuna claims an enqueued (WAITING) trial by reading its state with SELECT ... FOR UPDATE
    and then setting it RUNNING. SQLite ignores FOR UPDATE, so two threads could both claim the
    same portfolio trial, run it twice and fail with "Cannot tell a COMPLETE trial". Serialising
    state changes within the process makes the claim atomic. Workers in several processes
    should share PostgreSQL, where the row lock does this.
    """

    _state_lock = threading.Lock()

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        with self._state_lock:
            return super().set_trial_state_values(trial_id, state, values)


def fail_interrupted_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a process that died as failed; return how many.

    Only for a study this process owns: a shared study's running trials belong to live workers.
    """
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(
            trial._trial_id, "reason", "interrupted: the process running it stopped"
        )
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        count += 1
    return count


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    previous = optuna.logging.get_verbosity()
    # Failed trials are recorded with their reason; Optuna's per-trial warnings are noise here.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)
