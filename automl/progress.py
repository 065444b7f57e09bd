"""A live terminal display of a search: trials done, best score so far, time used and left."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord


class SearchProgress(SearchObserver):
    """Shows a progress bar on stderr; the bar tracks whichever budget ends first."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task_id: Any = None
        self.start: SearchStart | None = None
        self.started_at = 0.0
        self.done = 0

    def on_search_start(self, start: SearchStart) -> None:
        self.start = start
        self.started_at = time.monotonic()
        self.done = 0
        self.progress = Progress(
            TextColumn("[bold]search[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn() if start.n_trials else TextColumn("{task.fields[trials]} trials"),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        total = (
            start.n_trials - start.trials_already_done if start.n_trials else start.time_budget_s
        )
        self.task_id = self.progress.add_task(
            f"{start.metric} ({len(start.families)} families)",
            total=max(total or 1, 1),
            trials=0,
            best="-",
        )
        self.progress.start()

    def on_trial_end(self, record: TrialRecord, best: TrialRecord | None) -> None:
        if self.progress is None or self.start is None:
            return
        self.done += 1
        best_text = (
            "-" if best is None or best.cv_mean is None else f"{best.cv_mean:.4f} ({best.family})"
        )
        elapsed = time.monotonic() - self.started_at
        if self.start.n_trials:
            total = self.start.n_trials - self.start.trials_already_done
            completed = float(self.done)
            if self.start.time_budget_s is not None:
                # Both budgets: the bar follows whichever is further along.
                completed = max(completed, elapsed / self.start.time_budget_s * total)
        else:
            completed = elapsed
        self.progress.update(self.task_id, completed=completed, trials=self.done, best=best_text)

    def on_search_end(self, end: SearchEnd) -> None:
        if self.progress is None:
            return
        task = self.progress.tasks[0]
        self.progress.update(self.task_id, completed=task.total)
        self.progress.stop()
        self.console.print(
            f"search done: {end.n_complete} complete, {end.n_pruned} pruned, {end.n_failed} "
            f"failed in {end.duration_s:.1f}s (stopped by {end.stopped_by})"
        )
