"""``automl stage <name>``: what dvc.yaml runs, one command per pipeline stage.

Each command calls ``automl/stages/<name>.py`` with the paths dvc.yaml gives it and prints a
one-screen summary; errors become exit codes in ``automl.cli.main``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from automl.cli_common import ParamsOption, err, out, print_monitoring, score_text
from automl.exceptions import GateError

stage_app = typer.Typer(help="Run one pipeline stage, as dvc.yaml does.", no_args_is_help=True)


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


@stage_app.command("search")
def stage_search(
    train: Annotated[Path, typer.Option("--train", help="The training split (Parquet).")],
    checks: Annotated[Path, typer.Option("--checks", help="The prepare stage's checks.json.")],
    leaderboard: Annotated[Path, typer.Option("--leaderboard", help="Leaderboard CSV to write.")],
    best: Annotated[Path, typer.Option("--best", help="Best parameters JSON to write.")],
    summary: Annotated[Path, typer.Option("--summary", help="Study summary JSON to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Run or resume the AutoML search over the model families."""
    from automl.progress import SearchProgress
    from automl.stages import search

    result = search.run(
        params_path=params,
        train_in=train,
        checks_in=checks,
        leaderboard_out=leaderboard,
        best_out=best,
        summary_out=summary,
        observers=(SearchProgress(console=err),),
    )
    table = Table(title=f"search: best of {len(result.records)} trials ({result.metric})")
    for column in ("trial", "family", "cv mean", "cv std", "state"):
        table.add_column(column)
    for row in result.leaderboard().head(5).itertuples():
        table.add_row(
            str(row.trial), str(row.family), score_text(row.cv_mean), score_text(row.cv_std),
            str(row.state),
        )  # fmt: skip
    out.print(table)
    out.print(f"wrote {leaderboard}, {best} and {summary}")


@stage_app.command("train")
def stage_train(
    train: Annotated[Path, typer.Option("--train", help="The training split (Parquet).")],
    checks: Annotated[Path, typer.Option("--checks", help="The prepare stage's checks.json.")],
    best: Annotated[Path, typer.Option("--best", help="The search stage's best parameters.")],
    model: Annotated[Path, typer.Option("--model", help="Where to write the fitted model.")],
    summary: Annotated[Path, typer.Option("--summary", help="Training summary JSON to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Refit the best pipeline on all training rows and save the model."""
    from automl.stages import train as train_stage

    result = train_stage.run(
        params_path=params,
        train_in=train,
        checks_in=checks,
        best_in=best,
        model_out=model,
        summary_out=summary,
    )
    out.print(
        f"train: refit {result['family']} on {result['rows']} rows in {result['fit_time_s']}s; "
        f"wrote {model} and {summary}"
    )


@stage_app.command("evaluate")
def stage_evaluate(
    test: Annotated[Path, typer.Option("--test", help="The test split (Parquet).")],
    checks: Annotated[Path, typer.Option("--checks", help="The prepare stage's checks.json.")],
    model: Annotated[Path, typer.Option("--model", help="The trained model.")],
    best: Annotated[Path, typer.Option("--best", help="The search stage's best parameters.")],
    train_summary: Annotated[Path, typer.Option("--train-summary", help="Train's summary.")],
    metrics: Annotated[Path, typer.Option("--metrics", help="Test metrics JSON to write.")],
    fairness: Annotated[
        Path, typer.Option("--fairness", help="Per-group metrics and gaps JSON to write.")
    ],
    plots: Annotated[Path, typer.Option("--plots", help="Folder for plot data (CSV).")],
    figures: Annotated[Path, typer.Option("--figures", help="Folder for figures (PNG).")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Score the trained model on the test split: metrics, curves, importances."""
    from automl.stages import evaluate

    report = evaluate.run(
        params_path=params,
        test_in=test,
        checks_in=checks,
        model_in=model,
        best_in=best,
        train_summary_in=train_summary,
        metrics_out=metrics,
        fairness_out=fairness,
        plots_out=plots,
        figures_out=figures,
        show_progress=err.is_terminal,
    )
    table = Table(title=f"evaluate: test split ({report['rows']} rows)")
    intervals = report.get("intervals", {})
    table.add_column("metric")
    table.add_column("test")
    if intervals:
        confidence = next(iter(intervals.values()))["confidence"]
        table.add_column(f"{confidence:.0%} interval (bootstrap)")
    for key, value in report.items():
        if isinstance(value, float):
            bounds = intervals.get(key)
            interval = [f"{bounds['low']:.4f} to {bounds['high']:.4f}"] if bounds else [""]
            table.add_row(key, f"{value:.4f}", *(interval if intervals else []))
    out.print(table)
    out.print(f"wrote {metrics}, {fairness}, {plots}/ and {figures}/")


@stage_app.command("register")
def stage_register(
    checks: Annotated[Path, typer.Option("--checks", help="The prepare stage's checks.json.")],
    profile: Annotated[Path, typer.Option("--profile", help="The ingest stage's profile.")],
    search_summary: Annotated[Path, typer.Option("--search-summary", help="Search summary.")],
    best: Annotated[Path, typer.Option("--best", help="The search stage's best parameters.")],
    leaderboard: Annotated[Path, typer.Option("--leaderboard", help="The leaderboard CSV.")],
    train_summary: Annotated[Path, typer.Option("--train-summary", help="Train's summary.")],
    model: Annotated[Path, typer.Option("--model", help="The trained model.")],
    metrics: Annotated[Path, typer.Option("--metrics", help="Evaluate's test metrics.")],
    fairness: Annotated[Path, typer.Option("--fairness", help="Evaluate's per-group metrics.")],
    importances: Annotated[Path, typer.Option("--importances", help="Importances CSV.")],
    figures: Annotated[Path, typer.Option("--figures", help="Evaluate's figures folder.")],
    monitor_summary: Annotated[Path, typer.Option("--monitor-summary", help="Monitor summary.")],
    monitor_report: Annotated[Path, typer.Option("--monitor-report", help="Evidently report.")],
    summary: Annotated[Path, typer.Option("--summary", help="Registration summary to write.")],
    lock: Annotated[Path, typer.Option("--lock", help="DVC's lock file.")] = Path("dvc.lock"),
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Apply the promotion gates; register the model as a new version aliased `candidate`
    (exit 8 when a gate fails), with its dossier of evidence sealed."""
    from automl.dossier import Inputs
    from automl.stages import register

    inputs = Inputs(
        params=params, checks=checks, profile=profile, search_summary=search_summary, best=best,
        leaderboard=leaderboard, train_summary=train_summary, metrics=metrics,
        fairness=fairness, importances=importances, figures=figures,
        monitor_summary=monitor_summary, monitor_report=monitor_report, lock=lock,
    )  # fmt: skip
    try:
        result = register.run(
            params_path=params, inputs=inputs, model_in=model, summary_out=summary
        )
    except GateError:
        _print_gates(json.loads(summary.read_text())["gates"])
        raise
    _print_gates(result["gates"])
    if result.get("version"):
        out.print(
            f"register: {result['model_name']} version {result['version']} is now "
            f"'{result['alias']}'; approve it with `governance approve {result['model_name']} "
            f"{result['version']}` (someone other than its trainer)"
        )
    else:
        out.print("register: gates passed; not registered (tracking.enabled is false)")
    out.print(f"wrote {summary}")


def _print_gates(gates: dict[str, Any]) -> None:
    table = Table(title="register: promotion gates")
    for column in ("gate", "measured", "limit", "result"):
        table.add_column(column)
    for check in gates["checks"]:
        verdict = Text("pass", style="green") if check["passed"] else Text("FAIL", style="bold red")
        table.add_row(check["gate"], score_text(check["value"]) or str(check["value"]),
                      str(check["limit"]), verdict)  # fmt: skip
    out.print(table)


@stage_app.command("report")
def stage_report(
    register_summary: Annotated[
        Path, typer.Option("--register-summary", help="The register stage's summary.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the signed report.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Write the signed compliance audit report of the model the register stage handled."""
    from automl.stages import report

    content = report.run(params_path=params, register_summary_in=register_summary, out_dir=out_dir)
    status = content["status"]["overall"]
    style = {"PASS": "bold green", "ATTENTION": "bold yellow", "FAIL": "bold red"}[status]
    out.print(Text.assemble(("report: ", ""), (status, style), (f" — {content['title']}", "")))
    for line in content["status"]["attention"]:
        out.print(f"  - {line}")
    out.print(f"wrote {out_dir}/report.html, report.json and report.sig")


@stage_app.command("monitor")
def stage_monitor(
    train: Annotated[Path, typer.Option("--train", help="The training split (reference).")],
    test: Annotated[Path, typer.Option("--test", help="The test split (default batch).")],
    checks: Annotated[Path, typer.Option("--checks", help="The prepare stage's checks.json.")],
    model: Annotated[Path, typer.Option("--model", help="The trained model.")],
    train_summary: Annotated[Path, typer.Option("--train-summary", help="Train's summary.")],
    summary: Annotated[Path, typer.Option("--summary", help="Summary JSON to write.")],
    report: Annotated[Path, typer.Option("--report", help="Evidently HTML report to write.")],
    report_json: Annotated[Path, typer.Option("--report-json", help="Its JSON to write.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Check the configured batch (the test split by default) for drift and quality."""
    from automl.stages import monitor

    result = monitor.run(
        params_path=params, train_in=train, test_in=test, checks_in=checks, model_in=model,
        train_summary_in=train_summary, summary_out=summary, report_out=report,
        report_json_out=report_json,
    )  # fmt: skip
    print_monitoring(result.summary)
    out.print(f"wrote {report}, {report_json} and {summary}")
