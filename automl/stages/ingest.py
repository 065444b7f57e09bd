"""Stage ``ingest``: read the configured source, validate it, write it as Parquet with a profile."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from automl.config import load_params
from automl.data.prepare import require_column
from automl.data.profile import profile_dataset
from automl.data.schema import normalize_frame
from automl.data.sources import describe_source, load_source
from automl.exceptions import DataError
from automl.stages._atomic import atomic_outputs
from automl.stages._io import write_dataset

logger = logging.getLogger(__name__)


def run(
    *, params_path: str | Path, data_out: str | Path, profile_out: str | Path
) -> dict[str, Any]:
    """Ingest the source params.yaml names; return the profile that was written."""
    params = load_params(params_path)
    source = params.ingest.source
    frame = load_source(source)
    require_column(frame, params.data.target, "data.target")
    if frame.shape[1] < 2:
        raise DataError(
            f"the data has only the target column {params.data.target!r}; it needs at least "
            "one feature column besides it."
        )
    frame, notes = normalize_frame(frame)
    for note in notes:
        logger.warning(note)
    profile = {
        "source": describe_source(source),
        **profile_dataset(frame, target=params.data.target),
        "notes": notes,
    }
    with atomic_outputs() as out:
        write_dataset(out, data_out, frame, params=params, kind="dataset")
        out.write_json(profile_out, profile)
    return profile
