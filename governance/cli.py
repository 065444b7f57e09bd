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
from governance.cli_audit import audit_app
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
