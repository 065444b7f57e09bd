"""What the ``automl`` command's modules share: consoles, the --params option, number display."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ParamsOption = Annotated[
    Path, typer.Option("--params", help="The params.yaml to read.", show_default=True)
]


def print_monitoring(summary: dict[str, object]) -> None:
    status = str(summary["status"])
    style = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}[status]
    rows = summary["rows"]
    assert isinstance(rows, dict)
    table = Table(
        title=f"monitor: {summary.get('current_batch')} ({rows['current']} rows"
        + (f", {rows['current_used']} sampled" if rows["sampled"] else "")
        + ")"
    )
    for column in ("column", "method", "score", "threshold", "drifted"):
        table.add_column(column)
    columns = summary["columns"]
    assert isinstance(columns, dict)
    prediction = summary.get("prediction_drift")
    entries = list(columns.items()) + ([("(prediction)", prediction)] if prediction else [])
    for name, found in entries:
        table.add_row(
            name, str(found["method"]), score_text(found["score"]), str(found["threshold"]),
            Text("yes", style="bold red") if found["drifted"] else Text("no"),
        )  # fmt: skip
    out.print(table)
    quality = summary.get("quality") or {}
    assert isinstance(quality, dict)
    if quality:
        out.print("quality: " + ", ".join(f"{k} {v:.4f}" for k, v in quality.items()))
    out.print(Text.assemble(("status: ", ""), (status.upper(), style)))
    for reason in summary.get("reasons", []):  # type: ignore[attr-defined]
        out.print(f"  - {reason}")


def score_text(value: object) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return ""
    return f"{value:.4f}"
