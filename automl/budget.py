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

    def trial_deadline(self) -> Callable[[], float | None]:
        """The deadline of a trial that starts now, as a function of the time it is asked.

        The trial's own limit is fixed at its start, but the search's end moves earlier when a
        better trial raises the time kept back for the refit: a trial already running must stop
        by then too, or it eats the refit's time."""
        limit_at = None if self.trial_limit_s is None else self.clock() + self.trial_limit_s

        def deadline() -> float | None:
            candidates = [] if limit_at is None else [limit_at]
            if self.end is not None:
                candidates.append(self.end - self.refit_reserve_s)
            return min(candidates) if candidates else None

        return deadline

    def left(self) -> float:
        """Seconds until the whole budget ends (infinite without a time budget)."""
        return float("inf") if self.end is None else self.end - self.clock()

    def reserve(self, seconds: float) -> None:
        """Keep back ``seconds`` at the end for the work after the trials (refit, ensemble)."""
        self.refit_reserve_s = seconds

    def reserve_for(self, record: TrialRecord, cv: int) -> None:
        """Keep back what refitting ``record``'s pipeline on all rows should take."""
        self.reserve(refit_estimate(record.fit_time_s, len(record.cv_scores), cv))


# What a refit costs beyond its fits (building the pipeline, starting threads): paid once per
# refit, also by an ensemble's, however many members it has.
REFIT_OVERHEAD_S = 0.5


def refit_estimate(fit_time_s: float, folds_done: int, cv: int) -> float:
    """Expected seconds to refit a pipeline on all rows, from the fit time of its folds."""
    per_fold = fit_time_s / max(1, folds_done)
    # The refit sees cv/(cv-1) times the rows of a fold's fit; fits are about linear here.
    return 1.2 * per_fold * cv / max(1, cv - 1) + REFIT_OVERHEAD_S
