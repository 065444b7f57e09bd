"""Expected fit time of a trial, learnt from the trials of the same search.

Per family, a fold's fit time is taken as proportional to the family's size parameter (the
number of trees or boosting rounds; 1 for families without one), with the factor the median
of what that family's trials have shown so far. Where boosting stops early, ``n_estimators`` is
only a ceiling: the rate is per round actually fitted, and a proposal is expected to use the
share of its ceiling that the family's trials have typically used. Rough, but it is what
decides whether a trial can still finish in the time left: a trial expected to run past its
deadline is not started, so the end of a budget is not spent on a fit that would be killed.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import numpy as np

from automl.budget import REFIT_OVERHEAD_S

# Parameters whose value the fit time grows with, about linearly.
_SIZE_KEYS = ("n_estimators",)
# Observed trials of a family before its estimate is trusted.
MIN_OBSERVED = 1
# Margin over the estimate: the median hides the slow half.
SAFETY = 1.2


def _size(params: dict[str, Any]) -> float:
    for key in _SIZE_KEYS:
        if key in params:
            return max(1.0, float(params[key]))
    return 1.0


class CostModel:
    """Seconds per fold per unit of size, by family; safe to use from parallel trials."""

    def __init__(self) -> None:
        self._rates: dict[str, list[float]] = defaultdict(list)
        self._folds: dict[str, list[float]] = defaultdict(list)  # seconds per fold, by family
        self._shares: dict[str, list[float]] = defaultdict(list)  # rounds used / ceiling
        self._lock = threading.Lock()

    def observe(
        self, family: str, params: dict[str, Any], fold_fit_s: float, rounds: int | None = None
    ) -> None:
        """A fold's time; ``rounds`` is what early stopping kept of the ``n_estimators``."""
        ceiling = _size(params)
        used = ceiling if rounds is None else max(1.0, min(float(rounds), ceiling))
        with self._lock:
            self._rates[family].append(fold_fit_s / used)
            self._shares[family].append(used / ceiling)
            self._folds[family].append(fold_fit_s)

    def fold_seconds(self, family: str, params: dict[str, Any]) -> float | None:
        """Expected seconds to fit one fold of this configuration; None before evidence."""
        with self._lock:
            rates = self._rates.get(family, [])
            if len(rates) < MIN_OBSERVED:
                return None
            share = float(np.median(self._shares[family]))
            return SAFETY * float(np.median(rates)) * max(1.0, share * _size(params))

    def refit_seconds(self, family: str, params: dict[str, Any], cv: int) -> float | None:
        """Expected seconds to fit this configuration on all rows with one thread (as
        :func:`automl.budget.refit_estimate` has it from a trial); None before evidence."""
        per_fold = self.fold_seconds(family, params)
        if per_fold is None:
            return None
        # fold_seconds holds the same margin as refit_estimate; a refit sees cv/(cv-1) times
        # a fold's rows.
        return per_fold * cv / max(1, cv - 1) + REFIT_OVERHEAD_S

    def cheapest_trial_s(self, cv: int) -> float:
        """Expected seconds of a typical trial of the cheapest family seen (0 before any)."""
        with self._lock:
            typical = [float(np.median(f)) for f in self._folds.values() if f]
        return SAFETY * cv * min(typical) if typical else 0.0
