"""The wall-clock budget of a search, keeping back time for the final refit."""

from __future__ import annotations

import time
from collections.abc import Callable

from automl.events import TrialRecord

# Share of the time budget one trial may use when no per-trial limit is set.
DEFAULT_TRIAL_SHARE = 0.25


class Budget:
    """Wall-clock budget of a search, keeping back time for the final refit."""

    def __init__(
        self,
        *,
        time_budget_s: float | None,
        trial_limit_s: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.start = clock()
        self.end = None if time_budget_s is None else self.start + time_budget_s
        if trial_limit_s is None and time_budget_s is not None:
            trial_limit_s = max(5.0, DEFAULT_TRIAL_SHARE * time_budget_s)
        self.trial_limit_s = trial_limit_s
        self.refit_reserve_s = 0.0

    def search_left(self) -> float:
        """Seconds left for trials (infinite without a time budget)."""
        if self.end is None:
            return float("inf")
        return self.end - self.refit_reserve_s - self.clock()

    def trial_deadline(self) -> float | None:
        candidates = []
        if self.end is not None:
            candidates.append(self.end - self.refit_reserve_s)
        if self.trial_limit_s is not None:
            candidates.append(self.clock() + self.trial_limit_s)
        return min(candidates) if candidates else None

    def reserve_for(self, record: TrialRecord, cv: int) -> None:
        """Keep back what refitting ``record``'s pipeline on all rows should take."""
        per_fold = record.fit_time_s / max(1, len(record.cv_scores))
        # The refit sees cv/(cv-1) times the rows of a fold's fit; fits are about linear here.
        self.refit_reserve_s = 1.2 * per_fold * cv / max(1, cv - 1) + 0.5
