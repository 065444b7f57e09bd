"""Ensemble selection (Caruana et al., 2004) over the search's out-of-fold predictions.

Greedy forward selection with replacement: start from nothing, and in each round add the trial
whose predictions, averaged with those already chosen, score best; a trial chosen twice weighs
twice. The ensemble kept is the one of the best round, so rounds that only add noise are
dropped. It is used when it beats the best single trial on the same folds.

A blend is scored as the trials are: the mean of its scores on each fold's validation rows.
Scoring all rows at once would be cheaper, but for a ranking metric (ROC AUC) it rewards
members whose scores are comparable across folds, not members that rank well within each, and
the ensemble chosen that way can lose to the best single trial on the measure that decides.

Cost is part of the choice: every member has to be refitted on all rows within what is left of
the time budget, so a trial whose refit would not fit is not a candidate that round.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.budget import REFIT_OVERHEAD_S
from automl.data.task import Task
from automl.predictions import score_predictions

# The family name an ensemble goes by in leaderboards, best_params.json and the registry.
ENSEMBLE = "ensemble"
# Members are refit one after another, each with n_jobs threads. Costs are measured with one
# thread, and a fit with n_jobs threads is not n_jobs times faster (preprocessing is serial):
# 0.6 of it is assumed, below what was measured on hpc_jobs (0.6 to 0.8).
PARALLEL_EFFICIENCY = 0.6
# Rounds of greedy selection at most, and rounds without a better score before giving up.
MAX_ROUNDS = 40
PATIENCE = 8


@dataclass(frozen=True)
class Candidate:
    """A complete trial that may join the ensemble."""

    trial: int
    family: str
    params: dict[str, Any]
    answers: np.ndarray[Any, Any]  # out-of-fold predictions on every row
    refit_s: float  # expected seconds to refit on all rows


@dataclass(frozen=True)
class Member:
    trial: int
    family: str
    params: dict[str, Any]
    weight: float


@dataclass(frozen=True)
class Ensemble:
    members: tuple[Member, ...]
    cv_scores: tuple[float, ...]
    rounds: int
    refit_s: float
    # With a second level (automl.stacking): the first-level pipelines whose answers are its
    # columns, and its own members (each repeats a first-level trial's pipeline on them).
    inputs: tuple[Member, ...] = ()
    second: tuple[Member, ...] = ()

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.cv_scores))

    @property
    def cv_std(self) -> float:
        return float(np.std(self.cv_scores))

    def weights(self) -> dict[int, float]:
        return {m.trial: m.weight for m in self.members}

    @classmethod
    def members_from(cls, rows: Sequence[dict[str, Any]]) -> tuple[Member, ...]:
        """Members as :meth:`to_dict` wrote them (best_params.json)."""
        return tuple(
            Member(int(r["trial"]), str(r["family"]), dict(r["params"]), float(r["weight"]))
            for r in rows
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cv_mean": self.cv_mean,
            "cv_std": self.cv_std,
            "cv_scores": list(self.cv_scores),
            "rounds": self.rounds,
            "members": _rows(self.members),
        }
        if self.second:
            out |= {"inputs": _rows(self.inputs), "second": _rows(self.second)}
        return out

    def describe(self) -> list[str]:
        """Each member as people read it: ``trial 5 (xgboost) 0.25``; second-level members as
        :func:`second_level_name` and weight."""
        return [f"trial {m.trial} ({m.family}) {m.weight:.4g}" for m in self.members] + [
            f"{second_level_name(m)} {m.weight:.4g}" for m in self.second
        ]


def second_level_name(member: Member) -> str:
    """``trial 5 (xgboost) on level 1``, or ``extra_trees on level 1`` for a configuration
    that was no trial of the search (automl.stacking.STACKERS)."""
    if member.trial < 0:
        return f"{member.family} on level 1"
    return f"trial {member.trial} ({member.family}) on level 1"


def _rows(members: Sequence[Member]) -> list[dict[str, Any]]:
    return [
        {"trial": m.trial, "family": m.family, "weight": m.weight, "params": m.params}
        for m in members
    ]


def refit_seconds(costs: Sequence[float], n_jobs: int) -> float:
    """Expected wall time to refit, with ``n_jobs`` threads, members whose one-thread refits
    are expected to take ``costs`` (:func:`automl.budget.refit_estimate`, each with a refit's
    fixed overhead): their fits one after another, the overhead once."""
    if not costs:
        return 0.0
    fits = [max(0.0, c - REFIT_OVERHEAD_S) for c in costs]
    if n_jobs <= 1:
        return sum(fits) + REFIT_OVERHEAD_S
    return max(*fits, sum(fits) / (n_jobs * PARALLEL_EFFICIENCY)) + REFIT_OVERHEAD_S


def fold_scores(
    answers: np.ndarray[Any, Any],
    *,
    y: np.ndarray[Any, Any],
    folds: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    metric: str,
    task: Task,
) -> tuple[float, ...]:
    """The score of out-of-fold ``answers`` on each fold's validation rows."""
    return tuple(
        score_predictions(metric, y[valid], answers[valid], task=task) for _, valid in folds
    )


def select_ensemble(
    candidates: Sequence[Candidate],
    *,
    y: np.ndarray[Any, Any],
    folds: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    metric: str,
    task: Task,
    refit_limit_s: float = float("inf"),
    n_jobs: int = 1,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Ensemble | None:
    """The best ensemble of ``candidates`` by Caruana's greedy selection; None without two
    candidates, or when no candidate can be refitted within ``refit_limit_s``."""
    pool = [c for c in candidates if c.refit_s <= refit_limit_s]
    if len(pool) < 2:
        return None
    total = np.zeros_like(pool[0].answers, dtype=float)
    chosen: list[int] = []
    history: list[tuple[float, list[int]]] = []
    best_score, since_best = -np.inf, 0
    for _ in range(MAX_ROUNDS):
        if deadline is not None and clock() >= deadline:
            break
        in_use = {pool[i].trial: pool[i].refit_s for i in set(chosen)}
        pick, pick_score = -1, -np.inf
        for i, candidate in enumerate(pool):
            costs = {**in_use, candidate.trial: candidate.refit_s}
            if refit_seconds(list(costs.values()), n_jobs) > refit_limit_s:
                continue
            blended = (total + candidate.answers) / (len(chosen) + 1)
            value = float(np.mean(fold_scores(blended, y=y, folds=folds, metric=metric, task=task)))
            if np.isfinite(value) and value > pick_score:
                pick, pick_score = i, value
        if pick < 0:
            break
        chosen.append(pick)
        total += pool[pick].answers
        history.append((pick_score, list(chosen)))
        if pick_score > best_score:
            best_score, since_best = pick_score, 0
        else:
            since_best += 1
            if since_best >= PATIENCE:
                break
    if not history:
        return None
    best_index = max(range(len(history)), key=lambda r: (history[r][0], -r))
    picks = history[best_index][1]
    counts = Counter(picks)
    members = tuple(
        Member(pool[i].trial, pool[i].family, pool[i].params, n / len(picks))
        for i, n in sorted(counts.items(), key=lambda kv: (-kv[1], pool[kv[0]].trial))
    )
    blended = np.zeros_like(total)
    for i, n in counts.items():
        blended += pool[i].answers * (n / len(picks))
    return Ensemble(
        members=members,
        cv_scores=fold_scores(blended, y=y, folds=folds, metric=metric, task=task),
        rounds=best_index + 1,
        refit_s=refit_seconds([pool[i].refit_s for i in counts], n_jobs),
    )


def build_ensemble(estimators: Sequence[tuple[str, Any]], weights: Sequence[float], *,
                   task: Task, n_jobs: int) -> Any:  # fmt: skip
    """scikit-learn's soft-voting (weighted averaging) estimator over unfitted members."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    if task == "regression":
        return VotingRegressor(list(estimators), weights=list(weights), n_jobs=n_jobs)
    return VotingClassifier(list(estimators), voting="soft", weights=list(weights), n_jobs=n_jobs)
