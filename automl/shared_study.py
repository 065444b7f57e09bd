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
- **What the study is about.** The study's manifest (user attribute ``automl.manifest``) says
  which data, task, metric and folds its trials were scored on, so a worker joining from
  another host can check that it holds the same data before adding trials.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial

N_TRIALS = "automl.n_trials"
STATUS = "automl.status"
MANIFEST = "automl.manifest"
# The system attribute Optuna's retry callback gives a retried trial's copy.
_RETRY = "retry_history"


class StudyFull(Exception):  # noqa: N818 (a state, not a failure)
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
