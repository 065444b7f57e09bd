"""Finished trials as records and as the leaderboard people read and compare."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from automl.ensemble import ENSEMBLE, second_level_name
from automl.events import TrialRecord

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def prefixed(family: str, params: dict[str, Any]) -> dict[str, Any]:
    return {f"{family}.{k}": v for k, v in params.items()}


def leaderboard(
    records: Iterable[TrialRecord], skipped: dict[str, str], *, ensemble: Any = None
) -> pd.DataFrame:
    """One row per trial, best first; families left out for the data appear as SKIPPED.

    With an ``ensemble`` (:class:`automl.ensemble.Ensemble`) it comes first, as state
    ENSEMBLE with its members and weights as params, and each trial's ``ensemble_weight``
    says how much it weighs in it.
    """
    weights: dict[int, float] = {} if ensemble is None else ensemble.weights()
    rows = [
        {
            "trial": r.number,
            "family": r.family,
            "state": r.state,
            "cv_mean": r.cv_mean,
            "cv_std": r.cv_std,
            "cv_scores": json.dumps([round(s, 6) for s in r.cv_scores]),
            "fit_time_s": round(r.fit_time_s, 4),
            "predict_time_s": round(r.predict_time_s, 4),
            "duration_s": round(r.duration_s, 4),
            "reason": r.reason or "",
            "params": json.dumps(r.params, sort_keys=True, default=str),
            "ensemble_weight": weights.get(r.number, 0.0),
        }
        for r in records
    ]
    if ensemble is not None:
        members = {f"trial {m.trial} ({m.family})": round(m.weight, 4) for m in ensemble.members}
        members |= {second_level_name(m): round(m.weight, 4) for m in ensemble.second}
        rows.append({
            "trial": None, "family": ENSEMBLE, "state": "ENSEMBLE",
            "cv_mean": ensemble.cv_mean, "cv_std": ensemble.cv_std,
            "cv_scores": json.dumps([round(s, 6) for s in ensemble.cv_scores]),
            "reason": "", "params": json.dumps(members), "ensemble_weight": 1.0,
        })  # fmt: skip
    rows += [
        {"trial": None, "family": name, "state": "SKIPPED", "reason": why, "params": "{}"}
        for name, why in skipped.items()
    ]
    columns = ["trial", "family", "state", "cv_mean", "cv_std", "cv_scores", "fit_time_s",
               "predict_time_s", "duration_s", "reason", "params", "ensemble_weight"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    order = {"ENSEMBLE": -1, "COMPLETE": 0, "PRUNED": 1, "FAIL": 2, "SKIPPED": 3}
    frame["_order"] = frame["state"].map(order)
    frame = frame.sort_values(["_order", "cv_mean", "trial"], ascending=[True, False, True])
    frame = frame.drop(columns="_order").reset_index(drop=True)
    frame["trial"] = frame["trial"].astype("Int64")
    return frame


def record_of(trial: FrozenTrial) -> TrialRecord:
    """A finished Optuna trial as a leaderboard row."""
    attrs = trial.user_attrs
    family = str(trial.params.get("family", attrs.get("family", "?")))
    prefix = f"{family}."
    params = {k[len(prefix) :]: v for k, v in trial.params.items() if k.startswith(prefix)}
    scores = tuple(float(s) for s in attrs.get("cv_scores", []))
    complete = trial.state == TrialState.COMPLETE
    duration = trial.duration.total_seconds() if trial.duration is not None else 0.0
    started = trial.datetime_start.timestamp() if trial.datetime_start is not None else None
    return TrialRecord(
        number=trial.number,
        family=family,
        params=params,
        state=trial.state.name,
        cv_mean=float(np.mean(scores)) if scores else None,
        cv_std=float(np.std(scores)) if scores else None,
        cv_scores=scores,
        fit_time_s=float(attrs.get("fit_time_s", 0.0)),
        predict_time_s=float(attrs.get("predict_time_s", 0.0)),
        duration_s=duration,
        reason=None if complete else attrs.get("reason", "no reason recorded"),
        started_at=started,
        worker=attrs.get("worker"),
        retry_of=trial.system_attrs.get("failed_trial"),
    )
