"""The ``governance`` command: a thin Typer app over the governance library.

Errors become exit codes here and nowhere else: 0 success, 1 a failed operation, 2 a bad
command line, 3 no such object, 4 an integrity failure (tampered or corrupt; a report whose
status is FAIL), 5 a key that is missing, retired or shredded, 6 an audit log that cannot be
written, 7 access denied (including four eyes).

The keyring and the store default to ``.keys/`` and ``.store/`` in the current directory
(``GOVERNANCE_KEYRING`` and ``GOVERNANCE_STORE`` override them).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from governance import __version__
from governance import cli_common as common
from governance.cli_common import PRODUCTION_NOTE, KeyringOption, StoreOption, err, out
from governance.cli_models import register_commands
from governance.exceptions import GovernanceError

if TYPE_CHECKING:
    from governance.sealed import SealedFiles

app = typer.Typer(
    name="governance",
    help="Sealed artifacts, keys, audit log and compliance reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Key-encryption keys and data keys.", no_args_is_help=True)
store_app = typer.Typer(help="The sealed artifact store.", no_args_is_help=True)
file_app = typer.Typer(
    help="Sealed files outside the store (pipeline outputs such as models/model.sealed).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
app.add_typer(store_app, name="store")
app.add_typer(file_app, name="file")
audit_app = typer.Typer(
    help="The tamper-evident audit log: verify, checkpoint, show, export.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
register_commands(app)


@app.callback()
def _main(
    audit: Annotated[
        str | None,
        typer.Option(
            "--audit",
            envvar="GOVERNANCE_AUDIT",
            help="The audit log: a directory (default .audit) or a PostgreSQL URL.",
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            envvar="GOVERNANCE_POLICY",
            help="The access policy file (none: everything allowed, still audited).",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor", envvar="GOVERNANCE_ACTOR", help="Who is acting (default: the OS user)."
        ),
    ] = None,
) -> None:
    """Sealed artifacts, keys, audit log and compliance reports."""
    common.settings.update(audit=audit, policy=policy, actor=actor)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(f"automl-governance {__version__}")


# -- keys ---------------------------------------------------------------------------------


@keys_app.command("init")
def keys_init(keyring: KeyringOption = Path(".keys")) -> None:
    """Create the local keyring with a first key-encryption key."""
    ref = common.session(keyring).init_keys()
    out.print(f"created keyring {keyring} with {ref.kek_id} v{ref.version}")
    err.print(Text(PRODUCTION_NOTE, style="bold yellow"))


@keys_app.command("list")
def keys_list(keyring: KeyringOption = Path(".keys")) -> None:
    """List the key-encryption key's versions (never the keys)."""
    from governance.keys import LocalKeyring

    table = Table(title=f"keyring {keyring}")
    for column in ("version", "status", "primary", "created at"):
        table.add_column(column)
    for entry in LocalKeyring(keyring).versions():
        table.add_row(
            str(entry["version"]), entry["status"], "yes" if entry["primary"] else "",
            _when(entry["created_at"]),
        )  # fmt: skip
    out.print(table)


@keys_app.command("rotate")
def keys_rotate(keyring: KeyringOption = Path(".keys")) -> None:
    """Make a new KEK version primary and re-wrap every data key (no data is re-encrypted)."""
    session = common.session(keyring)
    session.rotate_keys()
    ref = next(v for v in session.keyring.versions() if v["primary"])
    count = len(list(session.keyring.object_ids()))
    out.print(f"v{ref['version']} is primary; {count} data keys re-wrapped")


@keys_app.command("shred")
def keys_shred(
    object_id: Annotated[
        str | None, typer.Argument(help="The object whose key to destroy.")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="A KEK version to destroy.")
    ] = None,
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Destroy an object's data key (or a KEK version): every copy becomes unreadable."""
    if (object_id is None) == (version is None):
        raise typer.BadParameter("give an object id or --version, not both")
    session = common.session(keyring)
    if object_id is not None:
        session.shred(object_id)
        out.print(f"shredded the data key of {object_id!r}: every copy of it is now unreadable")
    else:
        assert version is not None
        session.shred_version(version)
        out.print(f"shredded KEK v{version}")


# -- store --------------------------------------------------------------------------------


@store_app.command("put")
def store_put(
    object_id: Annotated[str, typer.Argument(help="The new object's id.")],
    source: Annotated[Path, typer.Argument(help="The file to seal ('-' for stdin).")],
    store: StoreOption = ".store",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Seal a file (or stdin) into the store."""
    data = sys.stdin.buffer if str(source) == "-" else source
    if str(source) != "-" and not source.is_file():
        raise GovernanceError(f"{source}: no such file to put")
    info = common.store(store, keyring).put(object_id, data)
    out.print(f"sealed {object_id!r}: {info.size} bytes, sha256 {info.sha256[:16]}…, "
              f"{info.kek_id} v{info.kek_version}")  # fmt: skip


@store_app.command("get")
def store_get(
    object_id: Annotated[str, typer.Argument(help="The object to unseal.")],
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here, not stdout.")
    ] = None,
    store: StoreOption = ".store",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Unseal an object to stdout (or --out); nothing is written unless all of it verifies."""
    data = common.store(store, keyring).get(object_id)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)


@store_app.command("ls")
def store_ls(store: StoreOption = ".store", keyring: KeyringOption = Path(".keys")) -> None:
    """List the sealed objects."""
    sealed = common.store(store, keyring)
    table = Table(title=f"store {sealed.backend.describe()}")
    for column in ("object", "bytes", "sha256", "key", "created by", "created at"):
        table.add_column(column)
    for info in sealed.list():
        table.add_row(
            info.object_id, str(info.size), info.sha256[:16] + "…",
            f"{info.kek_id} v{info.kek_version}", info.created_by, _when(info.created_at),
        )  # fmt: skip
    out.print(table)


@store_app.command("stat")
def store_stat(
    object_id: Annotated[str, typer.Argument()],
    store: StoreOption = ".store",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """An object's record, as JSON."""
    out.print_json(json.dumps(asdict(common.store(store, keyring).stat(object_id))))


@store_app.command("verify")
def store_verify(
    object_id: Annotated[str | None, typer.Argument(help="One object; all when left out.")] = None,
    store: StoreOption = ".store",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Check every object (or one) end to end; exit 4 if any is corrupt, 5 if a key is
    missing."""
    _print_verified(common.store(store, keyring).verify(object_id))


def _print_verified(report: dict[str, str]) -> None:
    for what, status in report.items():
        head = status.split(":")[0]
        style = "green" if status == "ok" else "yellow" if status == "shredded" else "bold red"
        out.print(Text.assemble((f"{head:9}", style), f" {what}", status[len(head) :]))
    if any(s.startswith("corrupt") for s in report.values()):
        raise typer.Exit(4)
    if any(s.startswith("key-missing") for s in report.values()):
        raise typer.Exit(5)


@store_app.command("rm")
def store_rm(
    object_id: Annotated[str, typer.Argument()],
    store: StoreOption = ".store",
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Delete an object (its key stays; `governance keys shred` destroys it)."""
    common.store(store, keyring).delete(object_id)
    out.print(f"deleted {object_id!r}")


# -- sealed files --------------------------------------------------------------------------


def _files(keyring: Path) -> SealedFiles:
    return common.session(keyring).files()


@file_app.command("stat")
def file_stat(
    path: Annotated[Path, typer.Argument(help="A sealed file.")],
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """A sealed file's record, as JSON (unauthenticated: `verify` checks it)."""
    out.print_json(json.dumps(asdict(_files(keyring).stat(path))))


@file_app.command("verify")
def file_verify(
    paths: Annotated[list[Path], typer.Argument(help="Sealed files.")],
    keyring: KeyringOption = Path(".keys"),
) -> None:
    """Check sealed files end to end; exit 4 if any is corrupt, 5 if a key is missing."""
    files = _files(keyring)
    _print_verified({str(path): files.verify(path) for path in paths})


# -- audit ---------------------------------------------------------------------------------

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


def _when(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def main() -> None:
    """Console-script entry point: run the app and turn library errors into exit codes."""
    try:
        try:
            app()
        finally:
            # Each session signs a checkpoint of what it appended, even when a command failed.
            while common.sessions:
                common.sessions.pop().close()
    except GovernanceError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
