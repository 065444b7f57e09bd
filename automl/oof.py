"""Out-of-fold predictions of a search's complete trials, kept for ensemble selection.

Every fold of a trial answers for its validation rows; put together, a complete trial has an
answer for every training row from a model that did not see that row. The best trials' answers
stay in memory (the best ``keep``, so a long search does not grow without bound); they are
never written anywhere, as they hold predictions about the training rows.

The best few of every family are kept too, even below the best ``keep``: an ensemble gains
most from members that err differently, and a long search on one strong family would
otherwise leave only that family's near-copies to choose from.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.budget import Budget
from automl.data.task import Task
from automl.ensemble import Candidate, Ensemble, refit_seconds, select_ensemble

logger = logging.getLogger(__name__)

# Candidates for the ensemble: the best trials by CV score, and the best of each family.
KEEP = 20
PER_FAMILY = 3
# Members an ensemble is expected to have, for the time kept back to refit them.
EXPECTED_MEMBERS = 5
# Rounds of selection expected, for the time kept back to select (most stop well before
# automl.ensemble.MAX_ROUNDS).
EXPECTED_ROUNDS = 15


class TrialAnswers:
    """One trial's out-of-fold predictions, filled in fold by fold."""

    def __init__(
        self, folds: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]], n_rows: int
    ) -> None:
        self._valid = [valid for _, valid in folds]
        self._n_rows = n_rows
        self.answers: np.ndarray[Any, Any] | None = None
        self.filled = 0

    def add(self, fold: int, answers: np.ndarray[Any, Any] | None) -> None:
        if answers is None:
            return
        if self.answers is None:
            self.answers = np.zeros((self._n_rows, *answers.shape[1:]), dtype=float)
        self.answers[self._valid[fold]] = answers
        self.filled += 1

    def complete(self) -> bool:
        return self.answers is not None and self.filled == len(self._valid)


@dataclass(frozen=True)
class _Entry:
    cv_mean: float
    candidate: Candidate


class AnswerStore:
    """The best complete trials' answers; safe to use from parallel trials."""

    def __init__(self, *, keep: int = KEEP, per_family: int = PER_FAMILY) -> None:
        self.keep = keep
        self.per_family = per_family
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()
        # Seconds one score of all rows takes: selection scores candidates x rounds of them.
        self.score_call_s: float | None = None

    def add(self, cv_mean: float, candidate: Candidate) -> None:
        with self._lock:
            self._entries.append(_Entry(cv_mean, candidate))
            self._entries.sort(key=lambda e: (-e.cv_mean, e.candidate.trial))
            seen: Counter[str] = Counter()
            kept = []
            for rank, entry in enumerate(self._entries):
                family = entry.candidate.family
                if rank < self.keep or seen[family] < self.per_family:
                    kept.append(entry)
                seen[family] += 1
            self._entries = kept

    def candidates(self) -> list[Candidate]:
        with self._lock:
            return [e.candidate for e in self._entries]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def expected_refit_s(self, n_jobs: int) -> float:
        """Time to refit an ensemble of the best few trials, for the budget to keep back."""
        with self._lock:
            costs = [e.candidate.refit_s for e in self._entries[:EXPECTED_MEMBERS]]
        return refit_seconds(costs, n_jobs)

    def selection_s(self) -> float:
        """Expected seconds of ensemble selection over the answers kept."""
        if self.score_call_s is None:
            return 0.0
        return self.score_call_s * len(self) * EXPECTED_ROUNDS + 0.2


def ensemble_within_budget(
    answers: AnswerStore,
    *,
    best_cv: float,
    y: np.ndarray[Any, Any],
    folds: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    metric: str,
    task: Task,
    n_jobs: int,
    budget: Budget,
) -> Ensemble | None:
    """Ensemble selection within what is left of the budget; None unless it beats the best
    trial's CV score ``best_cv``."""
    candidates = answers.candidates()
    if len(candidates) < 2:
        return None
    deadline, refit_limit = None, float("inf")
    left = budget.left()
    if np.isfinite(left):
        selecting = min(answers.selection_s(), 0.5 * max(0.0, left))
        deadline = budget.clock() + selecting
        refit_limit = left - selecting - 0.5
    ensemble = select_ensemble(
        candidates, y=y, folds=folds, metric=metric, task=task, refit_limit_s=refit_limit,
        n_jobs=n_jobs, deadline=deadline, clock=budget.clock,
    )  # fmt: skip
    if ensemble is None or len(ensemble.members) < 2 or ensemble.cv_mean <= best_cv:
        logger.info("no ensemble: it did not beat the best trial on CV")
        return None
    return ensemble
