"""``governance audit``: verify, checkpoint, show, export, hash, init-db."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from governance import cli_common as common
from governance.cli_common import KeyringOption, out

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify, checkpoint, show, export.", no_args_is_help=True
)

SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this UTC time (ISO 8601, e.g. 2026-11-01).")
]
UntilOption = Annotated[str | None, typer.Option("--until", help="Up to this UTC time.")]
ActorFilter = Annotated[str | None, typer.Option("--who", help="Only this actor.")]
ActionFilter = Annotated[
    str | None, typer.Option("--action", help="Actions starting with this (e.g. model.).")
]
ResourceFilter = Annotated[
    str | None, typer.Option("--resource", help="Resources starting with this.")
]


def _audit_read(
    keyring: Path, *, since: str | None, until: str | None, who: str | None,
    action: str | None, resource: str | None,
) -> list[dict[str, object]]:  # fmt: skip
    session = common.session(keyring)
    session.require("audit.read", "audit-log", action="audit.read")
    filters = {"since": since, "until": until, "actor": who, "action": action, "resource": resource}
    used = {k: v for k, v in filters.items() if v is not None}
    session.record("audit.read", "audit-log", "ok", {k: str(v) for k, v in used.items()})
    return [entry.as_dict() for entry in session.audit.entries(**used)]


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            "-c",
            help="A checkpoint kept elsewhere (a file holding `audit checkpoint`'s output).",
        ),
    ] = None,
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Check the hash chain and every signed checkpoint; exit 4 at the first bad entry."""
    from governance.audit import Checkpoint

    external = [Checkpoint.from_json(path.read_text()) for path in checkpoints or []]
    session = common.session(keyring)
    report = session.audit.verify(external)
    style = "green" if report.ok else "bold red"
    out.print(Text(report.summary(), style=style), soft_wrap=True)
    if not report.ok:
        raise typer.Exit(4)


@audit_app.command("checkpoint")
def audit_checkpoint(keyring: KeyringOption = Path(".keys")) -> None:
    """Sign the log's head now and print the checkpoint: keep it somewhere else, and give it
    back to `audit verify --checkpoint` to prove nothing before it changed or went missing."""
    checkpoint = common.session(keyring).audit.checkpoint()
    typer.echo(checkpoint.to_json())


@audit_app.command("show")
def audit_show(
    since: SinceOption = None, until: UntilOption = None, who: ActorFilter = None,
    action: ActionFilter = None, resource: ResourceFilter = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the last N entries.")] = 50,
    keyring: KeyringOption = Path(".keys"),
) -> None:  # fmt: skip
    """The entries that match, as a table (needs the audit.read permission)."""
    entries = _audit_read(
        keyring, since=since, until=until, who=who, action=action, resource=resource
    )
    table = Table(title=f"audit log: {len(entries)} matching entries (last {limit} shown)")
    for column in ("seq", "time (UTC)", "actor", "action", "resource", "outcome", "details"):
        table.add_column(column, overflow="fold")
    for entry in entries[-limit:]:
        details = json.dumps(entry["details"], separators=(",", ":"))
        table.add_row(
            str(entry["seq"]), str(entry["time"])[:19].replace("T", " "), str(entry["actor"]),
            str(entry["action"]), str(entry["resource"]), str(entry["outcome"]), details,
        )  # fmt: skip
    out.print(table)


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "jsonl",
    since: SinceOption = None, until: UntilOption = None, who: ActorFilter = None,
    action: ActionFilter = None, resource: ResourceFilter = None,
    keyring: KeyringOption = Path(".keys"),
) -> None:  # fmt: skip
    """Export matching entries for auditors as JSON Lines (the entries as stored, hashes
    included) or CSV (needs the audit.read permission)."""
    if fmt not in ("csv", "jsonl"):
        raise typer.BadParameter("--format must be csv or jsonl")
    entries = _audit_read(
        keyring, since=since, until=until, who=who, action=action, resource=resource
    )
    _write_export(output, entries, fmt)
    out.print(f"exported {len(entries)} entries to {output}")


def _write_export(output: Path, entries: list[dict[str, object]], fmt: str) -> None:
    import csv
    import io

    from governance.backends import LocalBackend

    buffer = io.StringIO()
    if fmt == "jsonl":
        for entry in entries:
            buffer.write(json.dumps(entry, separators=(",", ":")) + "\n")
    else:
        columns = ["seq", "time", "actor", "action", "resource", "outcome", "details", "prev"]
        writer = csv.DictWriter(buffer, fieldnames=[*columns, "hash"], lineterminator="\n")
        writer.writeheader()
        for entry in entries:
            writer.writerow(entry | {"details": json.dumps(entry["details"], sort_keys=True)})
    # Atomic: an auditor never receives half an export.
    with LocalBackend(output.parent).writer(output.name, replace=True) as sink:
        sink.write(buffer.getvalue().encode("utf-8"))


@audit_app.command("hash")
def audit_hash(
    value: Annotated[str, typer.Argument(help="A sensitive value to look for in the log.")],
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """The keyed hash under which the log records this value (to match, never to read)."""
    typer.echo(common.session(keyring).audit.hash_value(value))


@audit_app.command("init-db")
def audit_init_db(
    admin_url: Annotated[str, typer.Option("--admin-url", envvar="GOVERNANCE_AUDIT_ADMIN_URL")],
    app_role: Annotated[str, typer.Option("--app-role", help="The application's database role.")],
    table: Annotated[str, typer.Option("--table")] = "governance_audit",
) -> None:
    """Create the PostgreSQL audit tables, append-only for the application's role."""
    from governance.audit_pg import install

    install(admin_url, app_role=app_role, table=table)
    out.print(f"installed {table}: {app_role} may SELECT and INSERT, nothing else")
