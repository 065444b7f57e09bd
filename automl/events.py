"""What a search tells the outside world while it runs: the seam tracking and progress plug into.

An observer gets three calls: when the search starts, after every trial, when it ends. Calls are
serialised by the search (one at a time, even with parallel trials), so observers need no locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial, as the leaderboard and the tracking see it."""

    number: int
    family: str
    params: dict[str, Any]
    state: str  # COMPLETE, PRUNED or FAIL
    cv_mean: float | None
    cv_std: float | None
    cv_scores: tuple[float, ...]
    fit_time_s: float
    predict_time_s: float
    duration_s: float
    reason: str | None = None
    started_at: float | None = None  # Unix time
    worker: str | None = None  # host:pid of the process that ran it
    retry_of: int | None = None  # the trial of a dead worker this one ran again


@dataclass(frozen=True)
class SearchStart:
    study_name: str
    storage: str
    task: str
    metric: str
    families: tuple[str, ...]
    skipped: dict[str, str]
    n_rows: int
    n_features: int
    cv: int
    time_budget_s: float | None
    n_trials: int | None
    trials_already_done: int
    earlier: tuple[TrialRecord, ...] = ()


@dataclass(frozen=True)
class SearchEnd:
    study_name: str
    best: TrialRecord | None
    n_complete: int
    n_pruned: int
    n_failed: int
    duration_s: float
    stopped_by: str
    # The ensemble chosen over the best trials (automl.ensemble.Ensemble), when one beat them.
    ensemble: Any = None


class SearchObserver:
    """Base class with no-op hooks; override the ones you need."""

    def on_search_start(self, start: SearchStart) -> None:
        """The study is open and the first trial is about to start."""

    def on_trial_end(self, record: TrialRecord, best: TrialRecord | None) -> None:
        """A trial finished (in any state); ``best`` is the best complete trial so far."""

    def on_search_end(self, end: SearchEnd) -> None:
        """No more trials will start."""

    def shared_attrs(self) -> dict[str, Any]:
        """What workers joining a shared study need from this observer (study user attributes,
        JSON values), asked for after :meth:`on_search_start`; nothing secret."""
        return {}
