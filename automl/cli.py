"""The ``automl`` command: a thin Typer app over the library.

Errors become exit codes here and nowhere else: 0 success, 1 a failed run, 2 a bad command line
or params.yaml, 3 bad input data, 4 a sealed input that fails its integrity check, 5 a sealed
input whose key is missing or shredded, 6 an audit log that cannot be written, 7 access denied,
8 a failed promotion gate. Expected errors print one paragraph, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.text import Text

from automl.cli_common import ParamsOption, err, out, print_monitoring
from automl.cli_stages import stage_app
from automl.exceptions import AutoMLError
from governance.exceptions import GovernanceError

app = typer.Typer(
    name="automl",
    help="AutoML with governance: the ML side of the pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(stage_app, name="stage")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--plugin",
            help="A module to import first: it registers model families "
            "(automl.families.register_family) that params.yaml may then name.",
        ),
    ] = None,
) -> None:
    import importlib

    for module in plugin or ():
        importlib.import_module(module)
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


_MONITOR_INPUTS = {
    "train": Path("data/prepared/train.parquet"),
    "test": Path("data/prepared/test.parquet"),
    "checks": Path("data/prepared/checks.json"),
    "model": Path("models/model.sealed"),
    "train_summary": Path("results/train/summary.json"),
}


@app.command("monitor")
def monitor_batch(
    current: Annotated[
        Path, typer.Option("--current", help="The new batch: a CSV (any compression) or Parquet.")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the report and summary go.")
    ] = Path("results/monitor-batch"),
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Check a new batch against the training data, outside DVC: exit 0 on pass or warn,
    1 on fail (drift or quality past the thresholds in params.yaml's monitor section)."""
    from automl.stages import monitor

    batch = monitor.read_batch(current)
    result = monitor.run(
        params_path=params, train_in=_MONITOR_INPUTS["train"], test_in=_MONITOR_INPUTS["test"],
        checks_in=_MONITOR_INPUTS["checks"], model_in=_MONITOR_INPUTS["model"],
        train_summary_in=_MONITOR_INPUTS["train_summary"],
        summary_out=out_dir / "summary.json", report_out=out_dir / "report.html",
        report_json_out=out_dir / "report.json", current=batch, current_name=str(current),
    )  # fmt: skip
    print_monitoring(result.summary)
    out.print(f"report: {out_dir / 'report.html'}")
    if result.status == "fail":
        raise typer.Exit(1)


@app.command("worker")
def worker(
    study: Annotated[
        str | None,
        typer.Option(
            "--study", help="The study to join (default: the one this data and params.yaml define)."
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="The coordinator's Optuna storage, postgresql://user@host/db (default: "
            "$AUTOML_STORAGE, then search.storage). Give the password in PGPASSWORD or ~/.pgpass.",
        ),
    ] = None,
    n_jobs: Annotated[
        int | None, typer.Option("--n-jobs", min=1, help="Trials at once (default: search.n_jobs).")
    ] = None,
    wait_s: Annotated[
        float, typer.Option("--wait-s", min=0, help="Seconds to wait for the study to open.")
    ] = 0.0,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Join a shared search (search.shared: true) and run its trials until it is done."""
    from automl.progress import SearchProgress
    from automl.worker import run_worker

    report = run_worker(
        params_path=params, train_in=Path("data/prepared/train.parquet"),
        checks_in=Path("data/prepared/checks.json"), storage=storage, study=study,
        n_jobs=n_jobs, wait_s=wait_s,
        observers=(SearchProgress(console=err),),
    )  # fmt: skip
    out.print(
        f"worker: ran {report.trials_run} trials of study {report.study_name} "
        f"(stopped: {report.stopped_by})"
    )


def main() -> None:
    """Console-script entry point: run the app and turn library errors into exit codes."""
    try:
        app()
    except (AutoMLError, GovernanceError) as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
