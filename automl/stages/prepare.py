"""Stage ``prepare``: check the ingested data, infer the task, write train and test splits."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from automl.config import load_params
from automl.data.prepare import PreparedData, prepare_dataset
from automl.stages._atomic import atomic_outputs
from automl.stages._io import read_stage_parquet


def run(
    *,
    params_path: str | Path,
    data_in: str | Path,
    train_out: str | Path,
    test_out: str | Path,
    report_out: str | Path,
    show_progress: bool = True,
) -> PreparedData:
    """Prepare the ingested dataset; return the splits and the report that were written."""
    params = load_params(params_path)
    frame = read_stage_parquet(data_in, made_by="ingest")
    n_features = frame.shape[1] - 1
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} columns"),
        TimeRemainingColumn(),
        transient=True,
        disable=not show_progress,
    ) as progress:
        bar = progress.add_task("leakage check", total=n_features)
        prepared = prepare_dataset(
            frame,
            data=params.data,
            prepare=params.prepare,
            split=params.split,
            on_progress=lambda _name: progress.advance(bar),
        )
    with atomic_outputs() as out:
        out.write_with(train_out, lambda tmp: prepared.train.to_parquet(tmp, index=False))
        out.write_with(test_out, lambda tmp: prepared.test.to_parquet(tmp, index=False))
        out.write_json(report_out, prepared.report)
    return prepared
