"""Reading a stage's inputs, with an error that says which stage should have made them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from automl.config import Params, load_params
from automl.exceptions import DataError


def read_stage_parquet(path: str | Path, *, made_by: str) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise DataError(
            f"{file}: not found. It is written by the {made_by!r} stage: run `dvc repro` (or "
            f"`automl stage {made_by}`) first."
        )
    import pyarrow as pa

    try:
        return pd.read_parquet(file)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{file}: cannot be read ({str(exc).splitlines()[0]}); it is written by the "
            f"{made_by!r} stage: run `dvc repro --force {made_by}` to rebuild it."
        ) from None


def read_stage_json(path: str | Path, *, made_by: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise DataError(
            f"{file}: not found. It is written by the {made_by!r} stage: run `dvc repro` first."
        )
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{file}: not valid JSON ({exc}); run `dvc repro --force {made_by}` to rebuild it."
        ) from None
    if not isinstance(payload, dict):
        raise DataError(f"{file}: expected a JSON object; rerun `dvc repro --force {made_by}`.")
    return payload


def load_tracked_params(path: str | Path) -> Params:
    """params.yaml, after checking that the MLflow server it names (if any) answers: a stage
    that tracks fails before doing any work when tracking would fail after it."""
    params = load_params(path)
    if params.tracking.enabled:
        from automl.tracking import check_reachable

        check_reachable(params.tracking.uri)
    return params
