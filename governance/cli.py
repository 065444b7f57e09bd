"""The ``governance`` command: a thin Typer app over the governance library.

Errors become exit codes here and nowhere else: 0 success, 1 a failed operation, 2 a bad
command line.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

from governance import __version__
from governance.exceptions import GovernanceError

app = typer.Typer(
    name="governance",
    help="Sealed artifacts, keys, audit log and compliance reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)


@app.callback()
def _main() -> None:
    """Sealed artifacts, keys, audit log and compliance reports."""


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(f"automl-governance {__version__}")


def main() -> None:
    """Console-script entry point: run the app and turn library errors into exit codes."""
    try:
        app()
    except GovernanceError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
