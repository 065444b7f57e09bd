"""``governance approve | reject | report``: decisions about model versions, and their report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

if TYPE_CHECKING:
    import click

from governance import cli_common as common
from governance.cli_common import KeyringOption, StoreOption, out

TrackingOption = Annotated[
    str,
    typer.Option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        help="The MLflow tracking (and registry) URI: sqlite:///mlflow.db or http://host:5000.",
    ),
]
ModelArgument = Annotated[str, typer.Argument(help="The registered model's name.")]
VersionArgument = Annotated[str, typer.Argument(help="The model version (a number).")]


def _registry(uri: str) -> Any:
    from governance.mlflow_registry import MlflowRegistry

    return MlflowRegistry(uri)


def approve(
    model: ModelArgument,
    version: VersionArgument,
    comment: Annotated[str, typer.Option("--comment", help="Why, for the record.")] = "",
    tracking_uri: TrackingOption = "sqlite:///mlflow.db",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Approve a registered version and promote it to `champion`. Needs the model.approve and
    model.promote permissions, and someone other than who trained or registered it."""
    from governance.models import approve as approve_version

    decision = approve_version(
        common.session(keyring), _registry(tracking_uri), model, version, comment=comment
    )
    before = (
        f" (champion was version {decision.previous_champion})"
        if decision.previous_champion
        else ""
    )
    out.print(f"approved {model} version {version}: it is now 'champion'{before}")


def reject(
    model: ModelArgument,
    version: VersionArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why (required, for the record).")],
    tracking_uri: TrackingOption = "sqlite:///mlflow.db",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Reject a registered version: recorded with the reason; it loses its aliases."""
    from governance.models import reject as reject_version

    reject_version(common.session(keyring), _registry(tracking_uri), model, version, reason=reason)
    out.print(f"rejected {model} version {version}")


class _ReportGroup(TyperGroup):
    """``governance report MODEL VERSION`` builds; ``governance report verify DIR`` checks."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["build", *args]
        return super().parse_args(ctx, args)  # type: ignore[arg-type]


report_app = typer.Typer(
    cls=_ReportGroup,
    help="The signed compliance audit report of a model version: "
    "`governance report MODEL VERSION`, `governance report verify FOLDER`.",
    no_args_is_help=True,
)


@report_app.command("build")
def report_build(
    model: ModelArgument,
    version: VersionArgument,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder to write (default reports/MODEL-vN).")
    ] = None,
    checkpoints: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", "-c", help="An audit checkpoint kept elsewhere."),
    ] = None,
    tracking_uri: TrackingOption = "sqlite:///mlflow.db",
    store: StoreOption = ".store",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Write report.html, report.json and report.sig for MODEL version VERSION; exit 4 when
    the report's status is FAIL (it is still written, and says why)."""
    from governance.audit import Checkpoint
    from governance.report import problem_exit, report_for_version
    from governance.report_sign import write_report

    external = [Checkpoint.from_json(p.read_text()) for p in checkpoints or []]
    session = common.session(keyring)
    content = report_for_version(
        session, store=session.store(store), name=model, version=version,
        registry=_registry(tracking_uri), external=external,
    )  # fmt: skip
    folder = out_dir or Path("reports") / f"{model}-v{version}"
    write_report(session, content, folder)
    status = content["status"]
    style = {"PASS": "bold green", "ATTENTION": "bold yellow", "FAIL": "bold red"}[
        status["overall"]
    ]
    out.print(Text.assemble(("status: ", ""), (status["overall"], style)))
    for line in status["problems"] + status["attention"]:
        out.print(f"  - {line}")
    out.print(f"wrote {folder}/report.html, report.json and report.sig")
    error = problem_exit(content)
    if error is not None:
        raise error


@report_app.command("verify")
def report_verify(
    folder: Annotated[Path, typer.Argument(help="The folder holding report.sig and the report.")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="The signer's Ed25519 public key (base64) to expect."),
    ] = None,
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Check the signature and that report.json and report.html are unchanged; with the audit
    log at hand (--audit) also that it was signed with the log's key. Exit 4 on failure."""
    import base64

    from governance.exceptions import GovernanceError
    from governance.report_sign import verify_report

    expected = base64.b64decode(public_key) if public_key else None
    anchor = None
    if expected is None:
        try:
            log_id, logged = common.session(keyring).audit.log_id()
            anchor = (log_id, base64.b64decode(logged))
        except GovernanceError:
            anchor = None  # no audit log here: the signature is checked, the signer is not
    check = verify_report(folder, expected_public_key=expected, log_public_key=anchor)
    out.print(Text(check.summary(), style="green" if check.ok else "bold red"), soft_wrap=True)
    if not check.ok:
        raise typer.Exit(4)


def register_commands(app: typer.Typer) -> None:
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.add_typer(report_app, name="report")
