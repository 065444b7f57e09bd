"""What the ``governance`` command's modules share: consoles, options, the governed session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from governance.context import Governance
    from governance.store import SealedStore

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

KeyringOption = Annotated[
    Path,
    typer.Option("--keyring", envvar="GOVERNANCE_KEYRING", help="The local keyring directory."),
]
StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="GOVERNANCE_STORE",
        help="The sealed store: a directory, or any fsspec URL (s3://bucket/prefix, ...).",
    ),
]
PRODUCTION_NOTE = (
    "NOTE: this keyring keeps the key-encryption keys on this machine (files 0600). That "
    "protects copies of the data elsewhere (DVC remotes, backups), not this machine itself: "
    "in production, use an external KMS or HSM behind the KeyProvider interface."
)


settings: dict[str, str | None] = {"audit": None, "policy": None, "actor": None}
sessions: list[Governance] = []


def session(keyring: Path) -> Governance:
    """The governed session of this command (closed, with a signed checkpoint, at exit)."""
    from governance.context import open_governance

    governed = open_governance(
        keyring=keyring, audit=settings["audit"], policy=settings["policy"],
        actor=settings["actor"],
    )  # fmt: skip
    sessions.append(governed)
    return governed


def store(location: str, keyring: Path) -> SealedStore:
    return session(keyring).store(location)
