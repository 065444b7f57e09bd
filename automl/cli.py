"""The ``automl`` command: a thin Typer app over the library.

Errors become exit codes here and nowhere else: 0 success, 1 a failed run, 2 a bad command line
or params.yaml, 3 bad input data. Expected errors print one paragraph, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from automl.exceptions import AutoMLError

app = typer.Typer(
    name="automl",
    help="AutoML with governance: the ML side of the pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stage_app = typer.Typer(help="Run one pipeline stage, as dvc.yaml does.", no_args_is_help=True)
app.add_typer(stage_app, name="stage")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ParamsOption = Annotated[
    Path, typer.Option("--params", help="The params.yaml to read.", show_default=True)
]


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False, markup=False)],
        force=True,
    )


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    out.print(f"automl-governance {dist_version('automl-governance')}")


@stage_app.command("ingest")
def stage_ingest(
    data: Annotated[Path, typer.Option("--out", help="Where to write the dataset (Parquet).")],
    profile: Annotated[Path, typer.Option("--profile", help="Where to write the profile JSON.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Read the configured source and write it as Parquet with a profile."""
    from automl.stages import ingest

    result = ingest.run(params_path=params, data_out=data, profile_out=profile)
    table = Table(title=f"ingest: {result['source']['type']} source", show_header=True)
    for column in ("rows", "columns", "missing cells", "content hash"):
        table.add_column(column)
    missing = sum(c["missing"] for c in result["columns"]) + result["target"]["missing"]
    table.add_row(
        str(result["row_count"]),
        str(result["column_count"]),
        str(missing),
        result["content_hash"][:19] + "…",
    )
    out.print(table)
    out.print(f"wrote {data} and {profile}")


@stage_app.command("prepare")
def stage_prepare(
    data: Annotated[Path, typer.Option("--data", help="The ingested dataset (Parquet).")],
    train: Annotated[Path, typer.Option("--train", help="Where to write the training split.")],
    test: Annotated[Path, typer.Option("--test", help="Where to write the test split.")],
    report: Annotated[Path, typer.Option("--report", help="Where to write the checks (JSON).")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Check the data, infer the task and write the train/test splits."""
    from automl.stages import prepare

    result = prepare.run(
        params_path=params,
        data_in=data,
        train_out=train,
        test_out=test,
        report_out=report,
        show_progress=err.is_terminal,
    )
    info = result.report
    table = Table(title=f"prepare: {info['task']} task, target {info['target']!r}")
    for column in ("train rows", "test rows", "features", "dropped", "warnings"):
        table.add_column(column)
    table.add_row(
        str(info["rows"]["train"]),
        str(info["rows"]["test"]),
        str(len(info["features"])),
        str(len(info["dropped_columns"])),
        str(len(info["warnings"])),
    )
    out.print(table)
    out.print(f"wrote {train}, {test} and {report}")


def main() -> None:
    """Console-script entry point: run the app and turn library errors into exit codes."""
    try:
        app()
    except AutoMLError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
