"""A study shared by processes through the real PostgreSQL: exact totals, retried dead trials."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import uuid

import optuna
import pytest

from automl.portfolio import enqueue_portfolio
from automl.shared_study import (
    N_TRIALS,
    STATUS,
    TRIALS_END,
    SharedStorage,
    StudyFull,
    prepare_for_trials,
    publish_trials_end,
    trials_end_in,
    used_trials,
    wait_for_others,
)
from tests.conftest import PG_URL

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("optuna_schema")]


def _storage(grace_s: int = 60) -> SharedStorage:
    return SharedStorage(PG_URL, heartbeat_interval_s=1, grace_period_s=grace_s, max_retry=2)


def _new_study(quota: int | None) -> str:
    name = f"shared-{uuid.uuid4().hex[:10]}"
    study = optuna.create_study(storage=_storage(), study_name=name, direction="maximize")
    if quota is not None:
        study.set_user_attr(N_TRIALS, quota)
    return name


def _work(name: str, n_jobs: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=_storage())

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(0.02)
        return x

    with contextlib.suppress(StudyFull):  # the quota is reached: this worker is done
        study.optimize(objective, n_jobs=n_jobs)


def test_workers_in_several_processes_make_exactly_the_total_asked() -> None:
    name = _new_study(quota=37)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_work, args=(name, 2)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    study = optuna.load_study(study_name=name, storage=_storage())
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 37
    assert sorted(t.number for t in trials) == list(range(37))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def test_a_closed_study_starts_no_trial_and_enqueued_ones_count() -> None:
    name = _new_study(quota=3)
    study = optuna.load_study(study_name=name, storage=_storage())
    study.enqueue_trial({"x": 0.5})
    study.enqueue_trial({"x": 0.25})
    study.ask()  # claims the first enqueued trial, no new one
    study.ask()
    study.ask()  # the third and last
    with pytest.raises(StudyFull, match="3 trials"):
        study.ask()
    study.set_user_attr(STATUS, "closed")
    study.set_user_attr(N_TRIALS, 10)
    with pytest.raises(StudyFull, match="closed"):
        study.ask()


def test_a_dead_workers_trial_is_retried_in_its_place() -> None:
    name = _new_study(quota=2)
    study = optuna.load_study(study_name=name, storage=_storage(grace_s=1))
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    study._storage.record_heartbeat(dead._trial_id)  # type: ignore[attr-defined]
    study.tell(study.ask(), 1.0)  # the second and last trial of the quota
    time.sleep(2.5)  # no heartbeat for longer than the grace period
    optuna.storages.fail_stale_trials(study)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states == ["FAIL", "COMPLETE", "WAITING"]
    assert used_trials(study) == 2
    retry = study.ask()  # the retry is claimed although the quota is used up
    assert retry.params == dead.params
    study.tell(retry, 0.5)
    with pytest.raises(StudyFull):
        study.ask()


def test_a_trial_that_never_beat_is_failed_and_queued_again_after_the_grace() -> None:
    """A worker killed between taking a trial and its first heartbeat leaves a RUNNING trial
    Optuna's stale check never sees; the coordinator's wait must not hang on it."""
    name = _new_study(quota=5)
    study = optuna.load_study(study_name=name, storage=_storage(grace_s=3))
    study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})  # no heartbeat, ever
    ticks = iter(range(0, 1000, 2))  # each look at the clock, two seconds later
    running, waiting = wait_for_others(
        study, until=float("inf"), clock=lambda: float(next(ticks)), sleep=lambda s: None
    )
    assert (running, waiting) == (0, 1)
    assert [t.state.name for t in study.get_trials()] == ["FAIL", "WAITING"]


def test_the_portfolio_is_queued_only_up_to_the_quota() -> None:
    name = _new_study(quota=None)
    study = optuna.load_study(study_name=name, storage=_storage())
    prepare_for_trials(study, n_trials=3)
    enqueue_portfolio(study, ["lightgbm", "xgboost", "hist_gradient_boosting", "linear"], "binary")
    assert len(study.get_trials()) == 3
    assert study.user_attrs[STATUS] == "preparing"
    prepare_for_trials(study, n_trials=None)  # a solo run lifts the quota
    assert study.user_attrs.get(N_TRIALS) is None and study.user_attrs.get(STATUS) is None


def test_an_endless_trial_time_is_published_as_none() -> None:
    study = optuna.load_study(study_name=_new_study(quota=None), storage=_storage())
    publish_trials_end(study, float("inf"))  # a search without a time budget
    assert study.user_attrs[TRIALS_END] is None and trials_end_in(study) is None
    publish_trials_end(study, 30.0)
    left = trials_end_in(study)
    assert left is not None and 25.0 < left <= 30.0
