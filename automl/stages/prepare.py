"""Stage ``prepare``: check the ingested data, infer the task, write train and test splits."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from automl.config import load_params
from automl.data.prepare import PreparedData, prepare_dataset
from automl.stages._atomic import atomic_outputs
from automl.stages._io import read_stage_parquet, write_dataset


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
    frame = read_stage_parquet(data_in, made_by="ingest", params=params)
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
        write_dataset(out, train_out, prepared.train, params=params, kind="train")
        write_dataset(out, test_out, prepared.test, params=params, kind="test")
        out.write_json(report_out, prepared.report)
    return prepared
