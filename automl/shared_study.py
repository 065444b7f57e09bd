"""A study shared by search workers on many hosts, through Optuna's RDB storage.

Optuna already makes a study safe to share: trials are rows, an enqueued trial is claimed under
a row lock, and TPE's constant liar counts the trials still running. What it leaves to us:

- **The total.** ``optimize(n_trials=k)`` counts per process, and ``MaxTrialsCallback`` checks
  after a trial ends, so N workers overshoot. :class:`SharedStorage` checks the study's quota
  (study user attribute ``automl.n_trials``) inside trial creation, which Optuna runs with the
  study row locked (``SELECT ... FOR UPDATE``), so creators are serialised and the count is
  exact. A retry of a trial whose worker died takes that trial's place and always passes.
- **Dead workers.** Heartbeats mark a silent worker's trial failed once the grace period has
  passed; ``RetryHeartbeatStaleTrialCallback`` queues it again for another worker.
- **Who decides.** The coordinator (the ``search`` stage with ``search.shared: true``) opens
  the study to workers with its quota and the time trials must end by (on the database's
  clock, so hosts need not agree on the time), runs trials itself, closes the study when its
  budget says so, waits a little for trials still running elsewhere and picks the model.
  Workers (``automl worker``) join an open study whose name they compute from their own data
  and settings, as the coordinator did: a worker with other data cannot join by mistake.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial

from automl.exceptions import SearchError

if TYPE_CHECKING:
    from automl.budget import Budget

N_TRIALS = "automl.n_trials"
STATUS = "automl.status"
# When trials must end (database clock, epoch seconds): the budget's end, less what the
# coordinator keeps back for the ensemble and refit. It moves as the coordinator learns.
TRIALS_END = "automl.trials_end"
# Seconds between looks at the study while waiting for other workers' trials.
POLL_S = 1.0
# The longest a coordinator waits, after its own trials, for trials running on workers.
WAIT_FOR_WORKERS_S = 30.0
# The system attribute Optuna's retry callback gives a retried trial's copy.
_RETRY = "retry_history"


class StudyFull(SearchError):  # noqa: N818 (a state, not a failure)
    """No trial may be started: the study holds all it was asked for, or was closed."""


class SharedStorage(optuna.storages.RDBStorage):
    """RDB storage that refuses trials beyond the study's quota, with heartbeats and retries."""

    def __init__(
        self, url: str, *, heartbeat_interval_s: int, grace_period_s: int, max_retry: int
    ) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(
                url,
                heartbeat_interval=heartbeat_interval_s,
                grace_period=grace_period_s,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=max_retry
                ),
            )

    def record_heartbeat(self, trial_id: int) -> None:
        # Optuna's heartbeat thread stops for good at its first error: a blip of the database
        # would leave a live trial to be taken for dead. Missing one beat is harmless.
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:  # the next beat tries again
            logging.getLogger(__name__).warning(
                "could not record the heartbeat of trial %d: %s", trial_id, type(exc).__name__
            )

    def _get_prepared_new_trial(
        self, study_id: int, template_trial: FrozenTrial | None, session: Any
    ) -> Any:
        # Optuna calls this with the study row locked FOR UPDATE (RDBStorage._create_new_trial);
        # it is private, so tests/automl/test_shared_study.py guards that it is still reached.
        if template_trial is None or _RETRY not in template_trial.system_attrs:
            _check_room(session, study_id)
        return super()._get_prepared_new_trial(study_id, template_trial, session)


def _check_room(session: Any, study_id: int) -> None:
    from optuna.storages._rdb import models
    from sqlalchemy import func

    rows = (
        session.query(models.StudyUserAttributeModel.key, models.StudyUserAttributeModel.value_json)
        .filter(
            models.StudyUserAttributeModel.study_id == study_id,
            models.StudyUserAttributeModel.key.in_([N_TRIALS, STATUS]),
        )
        .all()
    )
    attrs = {key: json.loads(value) for key, value in rows}
    if attrs.get(STATUS) == "closed":
        raise StudyFull("the study is closed")
    quota = attrs.get(N_TRIALS)
    if quota is None:
        return
    trials = (
        session.query(func.count(models.TrialModel.trial_id))
        .filter(models.TrialModel.study_id == study_id)
        .scalar()
    )
    retries = (
        session.query(func.count(models.TrialSystemAttributeModel.trial_system_attribute_id))
        .join(models.TrialModel)
        .filter(
            models.TrialModel.study_id == study_id,
            models.TrialSystemAttributeModel.key == _RETRY,
        )
        .scalar()
    )
    if trials - retries >= quota:
        raise StudyFull(f"the study holds the {quota} trials it was asked for")


def used_trials(study: optuna.Study) -> int:
    """Trials that count against the quota: all but the retried copies of dead workers' ones."""
    trials = study.get_trials(deepcopy=False)
    return sum(_RETRY not in t.system_attrs for t in trials)


def db_now(study: optuna.Study) -> float:
    """The database server's clock (epoch seconds): one clock for workers on every host."""
    from sqlalchemy import text

    storage: Any = getattr(study._storage, "_backend", study._storage)  # under Optuna's cache
    engine = storage.engine
    query = "SELECT extract(epoch from now())"
    if engine.dialect.name == "mysql":
        query = "SELECT UNIX_TIMESTAMP(NOW(6))"
    with engine.connect() as conn:
        return float(conn.execute(text(query)).scalar())


def prepare_for_trials(study: optuna.Study, *, n_trials: int | None) -> None:
    """Before any trial is queued: a coordinator sets the quota (``n_trials``, the total over
    every process) and keeps workers out until it opens the study; a solo search (``None``)
    lifts what an earlier shared run left, as no one shares it now."""
    attrs = study.user_attrs
    if n_trials is None and attrs.get(STATUS) is None and attrs.get(N_TRIALS) is None:
        return
    study.set_user_attr(N_TRIALS, n_trials)
    study.set_user_attr(STATUS, "preparing" if n_trials is not None else None)


def open_to_workers(
    study: optuna.Study, *, extra: dict[str, Any], trials_for_s: float | None
) -> None:
    """Let workers join, once they can find what they need (``extra``) and when trials end."""
    for key, value in extra.items():
        study.set_user_attr(key, value)
    publish_trials_end(study, trials_for_s)
    study.set_user_attr(STATUS, "open")


def publish_trials_end(study: optuna.Study, seconds_from_now: float | None) -> None:
    """When trials must end; None (or an endless time) for a study without a time budget."""
    if seconds_from_now is None or not math.isfinite(seconds_from_now):
        end = None
    else:
        end = db_now(study) + seconds_from_now
    study.set_user_attr(TRIALS_END, end)


def close_to_workers(study: optuna.Study) -> None:
    study.set_user_attr(STATUS, "closed")


def join(study: optuna.Study) -> float | None:
    """Seconds left for trials in the shared budget (None without one); StudyFull when the
    study is not open, or its time is over."""
    attrs = study.user_attrs
    if attrs.get(STATUS) != "open":
        raise StudyFull("the study is not open to workers (its search ended or never began)")
    end = attrs.get(TRIALS_END)
    if end is None:
        return None
    left = float(end) - db_now(study)
    if left <= 0:
        raise StudyFull("the study's time budget is over")
    return left


def trials_end_in(study: optuna.Study) -> float | None:
    """Seconds until trials must end, as the coordinator last published it."""
    end = study.user_attrs.get(TRIALS_END)
    return None if end is None else float(end) - db_now(study)


def wait_for_others(
    study: optuna.Study,
    *,
    until: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, int]:
    """Wait (until ``clock() >= until``) for trials running elsewhere to finish; trials of a
    worker that died are failed once their heartbeat is stale, and queued again. Returns the
    trials still running and those queued (retries for the caller to run), as soon as any are
    queued, none is running, or the time is up."""
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    silent = _Silent(study, clock)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)
        silent.fail_the_long_silent()
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if waiting or not running or clock() >= until:
            return running, waiting
        sleep(min(POLL_S, max(0.0, until - clock())))


class _Silent:
    """Running trials that never recorded a heartbeat. Optuna's stale check skips them, yet a
    worker killed between taking a trial and its first heartbeat leaves one behind; waited for
    forever, it would stall the coordinator. Timed on this process's clock (the trial's start
    time is the other host's), they are failed and queued again like stale ones."""

    def __init__(self, study: optuna.Study, clock: Callable[[], float]) -> None:
        self.study = study
        self.clock = clock
        self.first_seen: dict[int, float] = {}

    def fail_the_long_silent(self) -> None:
        from optuna.storages._rdb import models
        from optuna.trial import TrialState

        storage: Any = getattr(self.study._storage, "_backend", self.study._storage)
        grace = float(storage.grace_period or 0)
        now = self.clock()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            with storage.scoped_session() as session:
                beating = models.TrialHeartbeatModel.where_trial_id(trial._trial_id, session)
            if beating is not None:
                self.first_seen.pop(trial._trial_id, None)
                continue
            seen = self.first_seen.setdefault(trial._trial_id, now)
            if now - seen > grace and storage.set_trial_state_values(
                trial._trial_id, state=TrialState.FAIL
            ):
                callback = storage.get_heartbeat_stale_trial_callback()
                if callback is not None:
                    callback(self.study, storage.get_trial(trial._trial_id))


def finish_shared(study: optuna.Study, *, budget: Budget, run: Callable[..., str]) -> None:
    """Close the study to new trials; wait a little for the workers' running trials, and run
    retries of dead workers' trials that no worker took."""
    close_to_workers(study)
    # Workers' trials end with the trial time (the quota may have been reached before it);
    # a part of what is kept back for the ensemble and refit may go to waiting for stragglers.
    grace = min(WAIT_FOR_WORKERS_S, 0.5 * budget.refit_reserve_s)
    until = float("inf")
    if budget.end is not None:
        until = budget.clock() + max(0.0, budget.search_left()) + grace
    while True:
        running, waiting = wait_for_others(study, until=until, clock=budget.clock)
        if (
            waiting
            and budget.clock() < until
            and run(done_before=0, n_trials=waiting) != ("time_budget_s")
        ):
            continue
        if running:
            logging.getLogger(__name__).warning(
                "%d trials of other workers were still running; they are left out of this result",
                running,
            )
        return
