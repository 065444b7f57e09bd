"""One trial of the search: pick a family and its parameters, cross-validate, report.

The objective runs the folds in a worker process (:mod:`automl.isolation`), reports the running
mean after every fold so Optuna's pruner can stop a bad trial early, keeps the trial's
out-of-fold answers for ensemble selection, and learns fit times so that a trial expected to
overrun its deadline is not started at all.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from automl.budget import Budget, refit_estimate
from automl.config import SearchParams
from automl.cost import CostModel
from automl.data.task import Task
from automl.ensemble import Candidate, fold_scores
from automl.families import BuildContext, Family, Space
from automl.isolation import FoldResult, TrialJob, run_isolated
from automl.oof import AnswerStore, TrialAnswers
from automl.study import PRUNE_PERCENTILE
from automl.target_transform import target_space

WORKER = f"{socket.gethostname()}:{os.getpid()}"
# Trials in a row refused for want of time at the end of the budget before the search stops.
REFUSALS_BEFORE_STOP = 10
# A running trial stops when its other folds are expected to need more than this times the
# time left before its deadline.
FINISH_TOLERANCE = 1.1
# Timed calls of the blend scorer, for the time ensemble selection will take.
SCORE_CALL_SAMPLES = 3


class TrialFailedError(Exception):
    """Raised inside the objective so that Optuna records the trial as failed."""


class Objective:
    def __init__(
        self,
        *,
        families: dict[str, Family],
        task: Task,
        settings: SearchParams,
        data_path: Path,
        budget: Budget,
        folds: list[Any],
        cv: int,
        y: np.ndarray[Any, Any],
        metric: str,
        n_features: int = 0,
    ) -> None:
        self.families = families
        self.task = task
        self.settings = settings
        self.data_path = data_path
        self.budget = budget
        self.folds = folds
        self.n_rows = sum(len(valid) for _, valid in folds)
        self.cv = cv
        self.y = y
        self.metric = metric
        self.n_features = n_features
        self.n_classes = 0 if task == "regression" else int(np.max(y)) + 1
        self.answers = AnswerStore()
        self.costs = CostModel()
        self.refused_at_end = 0

    def _suggest(self, trial: optuna.Trial) -> tuple[Family, dict[str, Any]]:
        """The trial's family and its parameters (with the regression target's transform)."""
        name = trial.suggest_categorical("family", list(self.families))
        family = self.families[str(name)]
        space = Space(trial, family.name, early_stopping=self.settings.early_stopping)
        params = family.search_space(space, self.task)
        if self.settings.target_transform:
            params |= target_space(space, self.task, family)
        return family, params

    def __call__(self, trial: optuna.Trial) -> float:
        family, params = self._suggest(trial)
        trial.set_user_attr("family", family.name)
        # Which process runs it: in a shared study, the trials of a worker that died are found
        # (and retried) by their heartbeats; this says whose they were.
        trial.set_user_attr("worker", WORKER)
        deadline = self.budget.trial_deadline()
        starting_deadline = deadline()
        if starting_deadline is not None and starting_deadline - self.budget.clock() < 0.5:
            trial.study.stop()
            self._fail(trial, "not started: the time budget ran out")
        self._admit(trial, family.name, params, starting_deadline)
        job = TrialJob(
            data_path=self.data_path,
            family=family,
            params=params,
            context=BuildContext(
                task=self.task,
                seed=self.settings.seed,
                n_jobs=1,
                early_stopping=self.settings.early_stopping,
            ),
        )
        scores: list[float] = []
        fold_seconds: list[float] = []
        collected = TrialAnswers(self.folds, self.n_rows)
        out_of_time: list[str] = []

        def on_fold(result: FoldResult) -> bool:
            scores.append(result.score)
            fold_seconds.append(result.fit_time_s + result.predict_time_s)
            collected.add(result.fold, result.predictions)
            # Steps count folds done (1..cv), the resource Hyperband's rungs are set in. The
            # last fold is never pruned: the trial is complete, and its answers are wanted.
            trial.report(float(np.mean(scores)), result.fold + 1)
            if result.fold + 1 >= self.cv:
                return True
            if self.settings.pruning and trial.should_prune():
                return False
            late = self._cannot_finish(fold_seconds, deadline())
            if late is not None:
                out_of_time.append(late)
            return late is None

        outcome = run_isolated(
            job, deadline=deadline, on_fold=on_fold, memory_limit_mb=self.settings.memory_limit_mb
        )
        trial.set_user_attr("cv_scores", scores)
        for fold in outcome.folds:
            self.costs.observe(
                family.name, params, fold.fit_time_s + fold.predict_time_s, rounds=fold.rounds
            )
        trial.set_user_attr("fit_time_s", sum(f.fit_time_s for f in outcome.folds))
        trial.set_user_attr("predict_time_s", sum(f.predict_time_s for f in outcome.folds))
        n_folds = len(outcome.folds)
        if outcome.error is not None:
            self._fail(trial, outcome.error)
        if outcome.stopped == "pruned":
            why = out_of_time[0] if out_of_time else f"pruned: {self._prune_why()}"
            trial.set_user_attr("reason", f"{why} (after {n_folds} folds)")
            raise optuna.TrialPruned
        if outcome.stopped == "time":
            why = f"stopped by the time limit after {n_folds} folds"
            if not scores:
                self._fail(trial, why)
            # Partial folds still tell TPE this region is slow and where its scores stand.
            trial.set_user_attr("reason", why)
            raise optuna.TrialPruned
        value = float(np.mean(scores))
        if collected.answers is not None and collected.complete():
            fit_time = sum(f.fit_time_s for f in outcome.folds)
            self._keep(value, Candidate(
                trial=trial.number, family=family.name, params=params,
                answers=collected.answers, refit_s=refit_estimate(fit_time, n_folds, self.cv),
            ))  # fmt: skip
        return value

    def _keep(self, value: float, candidate: Candidate) -> None:
        """A complete trial's answers, for ensemble selection after the trials."""
        if self.answers.score_call_s is None:
            # What scoring one blend costs: selection's time is kept back from the budget. The
            # fastest of a few calls: the first pays one-off costs (imports, cold caches) that
            # selection's hundreds of calls do not, and overstated the time kept back 3-fold.
            timings = []
            for _ in range(SCORE_CALL_SAMPLES):
                started = time.perf_counter()
                fold_scores(
                    candidate.answers, y=self.y, folds=self.folds, metric=self.metric,
                    task=self.task,
                )  # fmt: skip
                timings.append(time.perf_counter() - started)
            self.answers.score_call_s = min(timings)
        self.answers.add(value, candidate)

    def _admit(
        self, trial: optuna.Trial, family: str, params: dict[str, Any], deadline: float | None
    ) -> None:
        """Refuse (as a pruned trial) one that is expected to overrun its deadline."""
        per_fold = self.costs.fold_seconds(family, params)
        if deadline is None or per_fold is None:
            return
        left = deadline - self.budget.clock()
        if per_fold * self.cv <= left:
            self.refused_at_end = 0
            return
        if self.budget.search_left() <= left + 0.01:
            # The budget's end, not the trial limit, is in the way. The search stops when no
            # family could finish a typical trial in the time left, or when TPE keeps
            # proposing trials too slow for it (refusals cost no time, but fill the records
            # and, in a shared study, its quota).
            self.refused_at_end += 1
            if (
                self.refused_at_end >= REFUSALS_BEFORE_STOP
                or self.costs.cheapest_trial_s(self.cv) > left
            ):
                trial.study.stop()
        trial.set_user_attr(
            "reason",
            f"not started: expected to need {per_fold * self.cv:.1f} s for {self.cv} folds, "
            f"{left:.1f} s left",
        )
        # Pruned, not failed: TPE ignores failed trials and would propose the same again;
        # a pruned trial without a score counts as among the worst, so TPE learns that this
        # region is too slow for the time there is.
        raise optuna.TrialPruned

    def _cannot_finish(self, fold_seconds: list[float], deadline: float | None) -> str | None:
        """Why a running trial stops now, or None: at the pace of its folds so far, the rest
        would not be done by its deadline. Stopped here, it costs the folds it has run; left
        to run, it would be killed at the deadline with nothing more to show for the time."""
        if deadline is None:
            return None
        left = deadline - self.budget.clock()
        needed = float(np.mean(fold_seconds)) * (self.cv - len(fold_seconds))
        # Folds vary by a tenth or so, and a complete trial (an ensemble candidate) is worth
        # more than the time a near miss would lose: stop only when clearly late.
        if needed <= FINISH_TOLERANCE * left:
            return None
        return f"stopped: expected to need {needed:.1f} s for the other folds, {left:.1f} s left"

    def _prune_why(self) -> str:
        if self.settings.pruner == "hyperband":
            return "the running mean was not in the best third of its Hyperband bracket"
        return f"the running mean was in the bottom {PRUNE_PERCENTILE:g}% of trials at that fold"

    @staticmethod
    def _fail(trial: optuna.Trial, reason: str) -> None:
        trial.set_user_attr("reason", reason)
        raise TrialFailedError(reason)
