"""A second level over the search's best pipelines (stacking), kept only when it beats ensemble
selection on the search's own folds.

The first level's *inputs* are the ensemble's members and the best kept trial of every other
family (at most ``INPUTS``). Their out-of-fold answers, which the search kept for ensemble
selection, become extra columns beside the raw features, and the ``STACKERS`` (extra trees and
a linear model) are cross-validated on the widened table, on the same folds.
Ensemble selection then runs over the first level's candidates and the second level's
together; the result is kept when its CV score beats the first-level ensemble's (or the best
trial's).

To answer for new rows (:class:`automl.stacked_model.StackedModel`), the inputs, refit on all
rows, answer first; their answers are the columns the second level reads. The second level is
fitted on all rows with the out-of-fold columns, as scikit-learn's ``StackingClassifier`` does
(out-of-fold answers to learn from, refits to answer with).

Why these two: AutoGluon's lead at larger budgets comes from its stacked layers; in
benchmarks/stacking.json neither a linear model on the first level's answers alone nor a
gradient-boosting model on raw features and answers beat ensemble selection on CV, and among
the search's own pipelines fitted again on the widened table, extra trees and the linear model
did best (benchmarks/stacking_own_pipelines.json). The search's other tuned pipelines were
tried as second level too, and were dropped: on ames_raw a tuned SVM over the answers scored
-17,740 on CV, far beyond any first-level model (-22,000), and -31,406 on test; the CV score
of a flexible model over out-of-fold answers cannot be trusted to choose it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.cost import CostModel
from automl.data.task import Task
from automl.ensemble import (
    PARALLEL_EFFICIENCY,
    Candidate,
    Ensemble,
    Member,
    select_ensemble,
)
from automl.families import FAMILIES, BuildContext
from automl.oof import EXPECTED_MEMBERS
from automl.portfolio import CANDIDATES
from automl.preprocess import ColumnPlan, build_pipeline
from automl.stacked_model import answer_columns, out_of_fold, widen, widened_plan

logger = logging.getLogger(__name__)

# First-level pipelines whose answers become columns.
INPUTS = 8
# The second level (automl.portfolio names their configurations): on hpc_jobs extra trees
# over the answers scored best of all second-level pipelines, by far
# (benchmarks/stacking_own_pipelines.json), and a linear model over them is the classic
# stacker; both are hard to overfit with a few strong columns.
STACKERS = ("extra_trees-smooth", "linear-ridge")
# Training rows below which no second level is tried. On a few hundred rows the choice between
# levels is decided by a handful of rows, and the inputs, refit on all rows, answer far more
# confidently than the out-of-fold answers the second level learnt from: on penguins (275
# rows; 60 s, seed 1) a linear second level scored a CV log loss of -0.0023 against the best
# trial's -0.0042, and -0.161 against -0.080 on test. 500 rows is also the smallest slice
# early stopping holds out (automl.families.early_stopping): below it, a loss mostly measures
# noise.
MIN_ROWS = 500
# Time is kept back for the second level only when it is expected to take at most this share
# of the budget: on hpc_jobs at 300 s it cost a third of the budget and gained ten times what
# the first level gained from 60 s to 300 s (benchmarks/stacking.json, RESULTS.md); with a
# larger share, too few trials would be left for the first level to converge.
STACK_SHARE = 0.4
# Fits here run in this process, one at a time with all threads, and take about half what the
# trials' fit times (two trials at once in worker processes, with the refit estimate's margin)
# suggest: on hpc_jobs 0.53 for the second level's folds and 0.35 for the refits.
IN_PROCESS = 0.55
# Second-level candidates are numbered below every trial's number during selection.
_SECOND_ID = -1_000_000


def pick_inputs(candidates: Sequence[Candidate], ensemble: Ensemble | None) -> list[Candidate]:
    """The ensemble's members (heaviest first), then the best of every other family. Without
    an ensemble, the best few candidates stand in for its members: as the trials run (for the
    time to keep back), or when no ensemble beat the best trial."""
    by_trial = {c.trial: c for c in candidates}
    picked: list[Candidate] = list(candidates[:EXPECTED_MEMBERS])
    if ensemble is not None:
        picked = [by_trial[m.trial] for m in ensemble.members if m.trial in by_trial]
    families = {c.family for c in picked}
    for c in candidates:  # best first
        if c.family not in families:
            picked.append(c)
            families.add(c.family)
    return picked[:INPUTS]


def pick_second(
    inputs: Sequence[Candidate], *, task: Task, families: Sequence[str] | None = None,
    costs: CostModel | None = None, cv: int = 5,
) -> list[Candidate]:  # fmt: skip
    """The second level's pipelines: each of the ``STACKERS`` the search may use, as the
    search's best trial of that family among the inputs, else as the portfolio's
    configuration (trial number -1, no answers), its refit time from the trials' ``costs``
    where they have seen its family."""
    out: list[Candidate] = []
    for name in STACKERS:
        config = next(c for c in CANDIDATES if c.name == name)
        if families is not None and config.family not in families:
            continue
        kept = next((c for c in inputs if c.family == config.family), None)
        if kept is None and inputs:
            params = {
                k.split(".", 1)[1]: v for k, v in config.for_task(task).items() if k != "family"
            }
            refit_s = None if costs is None else costs.refit_seconds(config.family, params, cv)
            if refit_s is None:
                # Unseen, it is assumed as costly as the costliest input. That was 20 times
                # too much for extra trees beside CatBoost inputs on hpc_jobs, and kept the
                # second level from being tried at all.
                refit_s = max(c.refit_s for c in inputs)
            kept = Candidate(-1, config.family, params, np.empty(0), refit_s)
        if kept is not None:
            out.append(kept)
    return out


def _fit_scale(n_features: int, n_columns: int) -> float:
    """How much longer a fit on the widened table takes. Fit time grows with the columns a
    learner scans, but less than in proportion (the rows' sorting and binning are shared):
    on hpc_jobs, 32 answer columns beside 7 raw ones made fits 3.1 times as long."""
    return 1.0 + 0.5 * n_columns / max(1, n_features)


def expected_seconds(
    inputs: Sequence[Candidate], second: Sequence[Candidate], *, n_features: int,
    n_columns: int, cv: int, n_jobs: int,
) -> tuple[float, float]:  # fmt: skip
    """Seconds to cross-validate the second level, and to refit inputs and second level on
    all rows, one fit after another with ``n_jobs`` threads (refit_s is one thread's)."""
    scale = _fit_scale(n_features, n_columns)
    speed = max(1.0, n_jobs * PARALLEL_EFFICIENCY) / IN_PROCESS
    # A fold's fit sees (cv - 1)/cv of the rows; refit_s holds a 1.2 margin already.
    folds = sum(c.refit_s * scale * (cv - 1) for c in second) / speed
    refits = (sum(c.refit_s for c in inputs) + sum(c.refit_s * scale for c in second)) / speed
    return folds, refits


def applies(n_rows: int) -> bool:
    """Whether a search on ``n_rows`` training rows tries a second level (``MIN_ROWS``)."""
    return n_rows >= MIN_ROWS


def expected_stack_s(
    candidates: Sequence[Candidate], *, task: Task, families: Sequence[str] | None,
    n_features: int, n_classes: int, cv: int, n_jobs: int, costs: CostModel | None = None,
) -> tuple[float, float]:  # fmt: skip
    """What a second level over ``candidates`` is expected to cost: at the least (the
    smallest stack :func:`search_stack` would try: two inputs, its first pipeline
    cross-validated, and the refits), and in all (for the time kept back while the trials
    run)."""
    inputs = pick_inputs(candidates, None)
    per = 1 if n_classes <= 2 else n_classes

    def cost(chosen: Sequence[Candidate]) -> tuple[float, float, list[Candidate]]:
        second = pick_second(chosen, task=task, families=families, costs=costs, cv=cv)
        folds, refits = expected_seconds(
            chosen, second, n_features=n_features, n_columns=per * len(chosen), cv=cv,
            n_jobs=n_jobs,
        )  # fmt: skip
        return folds, refits, second

    if len(inputs) < 2 or not cost(inputs)[2]:
        return 0.0, 0.0
    folds, refits, _ = cost(inputs)
    least_folds, least_refits, least_second = cost(inputs[:2])
    return _first_share(least_folds, least_second) + least_refits, folds + refits


def _first_share(folds_s: float, second: Sequence[Candidate]) -> float:
    """The part of ``folds_s`` (all of ``second`` cross-validated) its first pipeline takes."""
    total = sum(c.refit_s for c in second)
    return folds_s * second[0].refit_s / total if total > 0 else folds_s


@dataclass
class StackOutcome:
    """A stack that beat the first level: the ensemble to refit, and the inputs' out-of-fold
    answers the second level learns from (held in memory only; predictions about the training
    rows are never written)."""

    ensemble: Ensemble
    input_answers: list[np.ndarray[Any, Any]]


def search_stack(
    candidates: Sequence[Candidate],
    *,
    ensemble: Ensemble | None,
    best_cv: float,
    X: pd.DataFrame,
    y: np.ndarray[Any, Any],
    folds: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    plan: ColumnPlan,
    metric: str,
    task: Task,
    seed: int,
    n_jobs: int,
    early_stopping: bool,
    deadline: float | None,
    families: Sequence[str] | None = None,
    fallback_refit_s: float = 0.0,
    costs: CostModel | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> StackOutcome | None:
    """Cross-validate a second level and select over both levels; None unless it beats the
    first level (``ensemble``, else the best trial's ``best_cv``) on CV, or when the time
    until ``deadline`` is too short. By ``deadline`` the refits must be done too: the stack's,
    or the first level's (``fallback_refit_s``) when the stack loses. ``families``: those the
    search may use (default all); ``costs``: the trials' fit times, for stackers no trial ran."""
    picked = pick_inputs(candidates, ensemble)
    cv = len(folds)
    if not applies(len(y)):
        logger.info("no second level: %d rows, fewer than %d", len(y), MIN_ROWS)
    if not applies(len(y)) or not pick_second(picked, task=task, families=families, cv=cv):
        return None
    # Worth starting when at least the first second-level pipeline fits with the refits; the
    # others are cross-validated while there is time for them. With less time than expected,
    # fewer inputs (the least useful last) make it cheaper.
    for n_inputs in range(len(picked), 1, -1):
        inputs = picked[:n_inputs]
        columns = answer_columns([c.answers for c in inputs], task)
        second_sources = pick_second(inputs, task=task, families=families, costs=costs, cv=cv)
        folds_s, refits_s = expected_seconds(
            inputs, second_sources, n_features=len(plan.columns), n_columns=columns.shape[1],
            cv=cv, n_jobs=n_jobs,
        )  # fmt: skip
        refits_s = max(refits_s, fallback_refit_s)
        first_s = _first_share(folds_s, second_sources)
        if deadline is None or clock() + first_s + refits_s <= deadline:
            break
    else:
        left = float("inf") if deadline is None else deadline - clock()
        logger.info("no second level: %.0f s left, too few for two inputs", left)
        return None
    started = clock()
    wide = widen(X, columns)
    context = BuildContext(task=task, seed=seed, n_jobs=n_jobs, early_stopping=early_stopping)
    wide_plan = widened_plan(plan, columns.shape[1])
    scale = _fit_scale(len(plan.columns), columns.shape[1])
    speed = max(1.0, n_jobs * PARALLEL_EFFICIENCY) / IN_PROCESS
    second: list[Candidate] = []
    origin: dict[int, int] = {}  # second-level candidate -> the trial it repeats (or -1)
    for j, source in enumerate(second_sources):
        pipeline = build_pipeline(wide_plan, FAMILIES[source.family], source.params, context)
        fold_s = source.refit_s * scale / speed
        # As expected_seconds counts it: a fold's fit sees (cv - 1)/cv of the rows.
        if deadline is not None and clock() + (cv - 1) * fold_s + refits_s > deadline:
            break
        answers = out_of_fold(
            pipeline, wide, y, folds=folds, task=task, n_jobs=n_jobs,
            stop=None if deadline is None else deadline - refits_s - fold_s, clock=clock,
        )  # fmt: skip
        if answers is None:
            break
        second.append(Candidate(_SECOND_ID - j, source.family, source.params, answers,
                                source.refit_s * scale))  # fmt: skip
        origin[_SECOND_ID - j] = source.trial
    logger.info(
        "second level: %d pipelines cross-validated in %.1f s (%.1f s expected for %d)",
        len(second), clock() - started, folds_s, len(second_sources),
    )  # fmt: skip
    if not second:
        return None
    chosen = select_ensemble(
        [*candidates, *second],
        y=y,
        folds=folds,
        metric=metric,
        task=task,
        n_jobs=n_jobs,
        deadline=None if deadline is None else deadline - refits_s,
        clock=clock,
    )
    baseline = ensemble.cv_mean if ensemble is not None else best_cv
    if chosen is None or chosen.cv_mean <= baseline:
        logger.info("no second level: it did not beat the first level on CV")
        return None
    sources = {c.trial: c for c in second}
    upper = [m for m in chosen.members if m.trial in sources]
    if not upper:
        return None
    stacked = Ensemble(
        members=tuple(m for m in chosen.members if m.trial not in sources),
        cv_scores=chosen.cv_scores,
        rounds=chosen.rounds,
        refit_s=refits_s,
        inputs=tuple(Member(c.trial, c.family, c.params, 0.0) for c in inputs),
        second=tuple(Member(origin[m.trial], m.family, m.params, m.weight) for m in upper),
    )
    return StackOutcome(stacked, [c.answers for c in inputs])
