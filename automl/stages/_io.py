"""Reading a stage's inputs, with an error that says which stage should have made them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from automl.config import Params, load_params
from automl.exceptions import DataError
from automl.stages._atomic import AtomicOutputs
from automl.stages._sealing import read_input, route_tracking_artifacts, seal_output


def read_stage_parquet(path: str | Path, *, made_by: str, params: Params) -> pd.DataFrame:
    """A dataset a stage wrote, sealed or not (sealed ones are opened in memory)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(
            f"{file}: not found. It is written by the {made_by!r} stage: run `dvc repro` (or "
            f"`automl stage {made_by}`) first."
        )
    import pyarrow as pa

    try:
        sealed = params.governance.seal_datasets
        payload = read_input(file, made_by=made_by, params=params, require_sealed=sealed)
        return pd.read_parquet(io.BytesIO(payload))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{file}: cannot be read ({str(exc).splitlines()[0]}); it is written by the "
            f"{made_by!r} stage: run `dvc repro --force {made_by}` to rebuild it."
        ) from None


def write_dataset(
    out: AtomicOutputs, target: str | Path, frame: pd.DataFrame, *, params: Params, kind: str
) -> None:
    """Write ``frame`` as Parquet to ``target``, sealed when ``governance.seal_datasets``."""
    if not params.governance.seal_datasets:
        out.write_with(target, lambda tmp: frame.to_parquet(tmp, index=False))
        return
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    seal_output(out, target, buffer.getvalue(), params=params, kind=kind)


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
        route_tracking_artifacts(params)
    return params
