"""Running a search's trials: Optuna's optimize loop under the budget.

After every trial the observers hear of it (one at a time, whatever the thread), the time kept
back for the refit and ensemble is updated, and the loop stops when the budget's trial time is
spent. In a shared study the quota is the study's (:mod:`automl.shared_study`): a coordinator
publishes when trials must end, and a worker follows it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from automl.budget import Budget, refit_estimate
from automl.config import SearchParams
from automl.events import SearchObserver, TrialRecord
from automl.exceptions import SearchError
from automl.leaderboard import record_of
from automl.objective import Objective, TrialFailedError
from automl.shared_study import StudyFull, publish_trials_end, trials_end_in
from automl.stacking import STACK_SHARE, expected_stack_s
from automl.stacking import applies as stack_applies
from automl.study import quiet_optuna

logger = logging.getLogger(__name__)
Role = Literal["solo", "coordinator", "worker"]
# The most of the time budget kept back for selecting and refitting an ensemble.
ENSEMBLE_SHARE = 0.2


def best_mean(record: TrialRecord) -> float:
    return -np.inf if record.cv_mean is None else record.cv_mean


class Notifier:
    """Serialises observer calls and tracks the best trial across threads."""

    def __init__(self, observers: Sequence[SearchObserver]) -> None:
        self.observers = list(observers)
        self.lock = threading.Lock()
        self.best: TrialRecord | None = None
        self.seen = 0  # trials this process finished

    def consider(self, record: TrialRecord) -> None:
        if record.state == "COMPLETE" and (
            self.best is None or best_mean(record) > best_mean(self.best)
        ):
            self.best = record

    def trial_done(self, record: TrialRecord) -> None:
        with self.lock:
            self.seen += 1
            self.consider(record)
            for observer in self.observers:
                observer.on_trial_end(record, self.best)


def optimize(
    study: optuna.Study,
    *,
    objective: Objective,
    settings: SearchParams,
    budget: Budget,
    notifier: Notifier,
    done_before: int,
    cv: int,
    role: Role = "solo",
    n_trials: int | None = None,
) -> str:
    # A shared study's quota is the study's (automl.shared_study); n_trials is for retries.
    remaining = n_trials
    if role == "solo" and settings.n_trials is not None:
        remaining = settings.n_trials - done_before
    if remaining is not None and remaining <= 0:
        return "n_trials reached before this run"
    if budget.search_left() <= 0:
        return "time_budget_s"
    reason = {"value": "n_trials" if remaining is not None else "time_budget_s"}
    # What workers were last told is kept back (so small changes cannot add up unannounced).
    published = {"reserve": budget.refit_reserve_s}

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        record = record_of(trial)
        notifier.trial_done(record)
        if role == "worker":
            # The coordinator moves the end as it learns what its refit needs.
            left = trials_end_in(study)
            if left is not None and budget.end is not None:
                budget.end = budget.clock() + left
        elif notifier.best is not None:
            best = notifier.best
            keep = refit_estimate(best.fit_time_s, len(best.cv_scores), cv)
            if settings.ensemble and budget.end is not None:
                # Room to select and refit an ensemble, but never most of a short budget.
                cap = max(keep, ENSEMBLE_SHARE * (budget.end - budget.start))
                wanted = objective.answers.expected_refit_s(settings.n_jobs)
                keep = max(keep, min(cap, wanted + objective.answers.selection_s()))
                if settings.stack:
                    keep = max(keep, _stack_reserve(objective, budget, cv=cv))
            budget.reserve(keep)
            moved = abs(keep - published["reserve"]) >= 1.0
            if role == "coordinator" and budget.end is not None and moved:
                publish_trials_end(study, budget.search_left())
                published["reserve"] = keep
        if budget.search_left() <= 0.5:
            reason["value"] = "time_budget_s"
            study.stop()

    while True:
        try:
            with quiet_optuna():
                study.optimize(
                    objective,
                    n_trials=remaining,
                    n_jobs=settings.n_jobs,
                    catch=(TrialFailedError,),
                    callbacks=[after_trial],
                )
            return reason["value"]
        except StudyFull as full:
            return "n_trials" if "trials" in str(full) else "closed"
        except optuna.exceptions.StorageInternalError as exc:
            cause = str(exc.__cause__ or exc).strip().splitlines()[0]
            raise SearchError(f"the study's database failed: {cause}") from None
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as exc:
            # In a shared study, a trial whose heartbeats were late (a database blip, a paused
            # host) is failed and run again elsewhere; telling its result then fails. The
            # trial is someone else's now: go on with the next.
            if role == "solo" or not _finished_elsewhere(exc):
                raise
            logger.warning("a trial of this process was taken for dead and is run elsewhere")
            if remaining is not None or budget.search_left() <= 0.5:
                return reason["value"]


def _stack_reserve(objective: Objective, budget: Budget, *, cv: int) -> float:
    """Time for a second level (automl.stacking) within its share of the budget, when at
    least its first pipeline fits there; else none, and the trials use that time."""
    assert budget.end is not None
    if not stack_applies(objective.n_rows):
        return 0.0
    answers = objective.answers
    least, full = expected_stack_s(
        answers.candidates(), task=objective.task, families=list(objective.families),
        n_features=objective.n_features, n_classes=objective.n_classes, cv=cv,
        n_jobs=objective.settings.n_jobs, costs=objective.costs,
    )  # fmt: skip
    # Two selections: the first level's, then both levels'.
    selecting = 2 * answers.selection_s()
    cap = STACK_SHARE * (budget.end - budget.start)
    return min(full + selecting, cap) if 0 < least + selecting <= cap else 0.0


def _finished_elsewhere(exc: Exception) -> bool:
    return isinstance(exc, optuna.exceptions.UpdateFinishedTrialError) or str(exc).startswith(
        "Cannot tell a"
    )
