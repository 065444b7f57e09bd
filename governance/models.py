"""Model versions under governance: registration records, four-eyes approval, alias moves.

The model registry (MLflow's, behind :class:`ModelRegistry`) holds versions and aliases, and
keeps no history of who moved an alias or why. Here every decision is checked against the
policy and written to the audit log *before* it takes effect, so the log is that history:

- ``model.train`` (resource: the sealed model's object id) and ``model.register`` (resource:
  ``<name>/<version>``, with the model's SHA-256 and the sealed dossier of evidence) are written
  by the pipeline;
- ``model.approve`` / ``model.reject`` by :func:`approve` / :func:`reject`;
- ``model.alias`` for every alias move (``from_version`` → the resource's version).

Four eyes: whoever trained the model (the ``model.train`` or sealing entry of its object) or
registered it cannot approve it; the log says who they were, not a tag anyone could edit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from governance.exceptions import AccessDeniedError, GovernanceError, IntegrityError
from governance.sealed import ObjectNotFoundError

if TYPE_CHECKING:
    from governance.audit import AuditLog, Entry
    from governance.context import Governance

CANDIDATE = "candidate"
CHAMPION = "champion"


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    run_id: str | None = None
    created_at: float | None = None  # seconds since the epoch


class ModelRegistry(Protocol):
    """What governance needs from a model registry (MLflow's: governance.mlflow_registry)."""

    def version(self, name: str, version: str) -> RegisteredVersion | None: ...

    def alias(self, name: str, alias: str) -> str | None: ...

    def set_alias(self, name: str, alias: str, version: str) -> None: ...

    def delete_alias(self, name: str, alias: str) -> None: ...

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None: ...


def resource(name: str, version: str) -> str:
    return f"{name}/{version}"


@dataclass(frozen=True)
class Registration:
    """The audit entry that registered a version, and every earlier one for the same name and
    version (a registry that was reset numbers its versions again)."""

    entry: Entry
    earlier: int

    @property
    def details(self) -> Mapping[str, Any]:
        return self.entry.details


def find_registration(log: AuditLog, name: str, version: str) -> Registration:
    """The latest successful ``model.register`` of ``name`` version ``version``."""
    found = [
        e
        for e in log.entries(action="model.register", resource=resource(name, version))
        if e.outcome == "ok" and e.resource == resource(name, version)
    ]
    if not found:
        raise ObjectNotFoundError(
            f"the audit log has no registration of {name!r} version {version}: only versions "
            "the pipeline's register stage created (after its gates passed) can be approved or "
            "reported on. Check the name and version with `governance audit show --action "
            "model.register`."
        )
    return Registration(found[-1], len(found) - 1)


def makers(log: AuditLog, registration: Registration) -> set[str]:
    """Who trained, sealed or registered the model: none of them may approve it."""
    object_id = str(registration.details.get("model_object_id", ""))
    people = {registration.entry.actor}
    if object_id:
        people |= {
            e.actor
            for e in log.entries(resource=object_id)
            if e.resource == object_id and e.action in ("model.train", "put") and e.outcome == "ok"
        }
    return people


def move_alias(
    session: Governance, registry: ModelRegistry, name: str, alias: str, version: str | None
) -> str | None:
    """Point ``alias`` at ``version`` (None removes it), audited before and after; return the
    version it pointed at before."""
    previous = registry.alias(name, alias)
    if previous == version:
        return previous
    # A removal is about the version that loses the alias.
    target = resource(name, version or previous or "-")
    session.require("model.promote", target, action="model.alias")
    details = {"alias": alias, "from_version": previous or "", "to_version": version or ""}
    session.record("model.alias", target, "requested", details)
    try:
        if version is None:
            registry.delete_alias(name, alias)
        else:
            registry.set_alias(name, alias, version)
    except Exception as exc:
        session.record("model.alias", target, "error", details | {"error": type(exc).__name__})
        raise
    session.record("model.alias", target, "ok", details)
    return previous


def _checked_version(
    session: Governance, registry: ModelRegistry, name: str, version: str, action: str
) -> tuple[Registration, RegisteredVersion]:
    """The registration and the registry's version, after checking the log and that the
    registry still holds the model that was registered."""
    target = resource(name, version)
    verified = session.audit.verify()
    if not verified.ok:
        session.record(action, target, "refused", {"reason": "audit log fails verification"})
        raise IntegrityError(
            f"refusing to {action.split('.')[1]} {name} version {version}: the audit log fails "
            f"verification ({verified.summary()}). Investigate with `governance audit verify`."
        )
    registration = find_registration(session.audit, name, version)
    found = registry.version(name, version)
    if found is None:
        raise ObjectNotFoundError(f"the model registry has no {name!r} version {version}")
    recorded = str(registration.details.get("model_sha256", ""))
    if found.tags.get("model_sha256") != recorded:
        session.record(action, target, "refused", {"reason": "registry differs from the log"})
        raise IntegrityError(
            f"{name} version {version} in the registry is not the model the audit log "
            f"registered (its model_sha256 tag is {found.tags.get('model_sha256')!r}, the log "
            f"recorded {recorded!r}): the registry was changed outside the pipeline."
        )
    return registration, found


@dataclass(frozen=True)
class Decision:
    name: str
    version: str
    outcome: str  # approved | rejected
    previous_champion: str | None = None


def approve(
    session: Governance, registry: ModelRegistry, name: str, version: str, *, comment: str = ""
) -> Decision:
    """Approve a registered version and make it ``champion``: by someone with the approver
    role (``model.approve`` and ``model.promote``) who neither trained nor registered it."""
    target = resource(name, version)
    session.require("model.approve", target, action="model.approve")
    session.require("model.promote", target, action="model.approve")
    registration, _ = _checked_version(session, registry, name, version, "model.approve")
    forbidden = makers(session.audit, registration)
    if session.actor in forbidden:
        session.record("model.approve", target, "denied", {"reason": "four-eyes"})
        raise AccessDeniedError(
            f"four eyes: {session.actor!r} trained or registered {name} version {version}, so "
            "cannot approve it; another person with the approver role must."
        )
    session.record(
        "model.approve", target, "ok",
        {"model_sha256": str(registration.details.get("model_sha256", "")), "comment": comment},
    )  # fmt: skip
    registry.set_tags(
        name, version,
        {"approval": "approved", "approved_by": session.actor, "approved_at": _now(session)},
    )  # fmt: skip
    previous = move_alias(session, registry, name, CHAMPION, version)
    return Decision(name, version, "approved", previous)


def reject(
    session: Governance, registry: ModelRegistry, name: str, version: str, *, reason: str
) -> Decision:
    """Reject a registered version: recorded with the reason; the version loses the
    ``candidate`` and ``champion`` aliases if it holds them."""
    if not reason.strip():
        raise GovernanceError("a rejection needs a reason (--reason)")
    target = resource(name, version)
    session.require("model.approve", target, action="model.reject")
    held = [alias for alias in (CANDIDATE, CHAMPION) if registry.alias(name, alias) == version]
    if held:  # asked before anything is recorded: a rejection happens whole or not at all
        session.require("model.promote", target, action="model.reject")
    _checked_version(session, registry, name, version, "model.reject")
    session.record("model.reject", target, "ok", {"reason": reason})
    registry.set_tags(
        name, version,
        {"approval": "rejected", "rejected_by": session.actor, "rejected_at": _now(session)},
    )  # fmt: skip
    for alias in held:
        move_alias(session, registry, name, alias, None)
    return Decision(name, version, "rejected")


def history(entries: Iterable[Entry], name: str, version: str) -> dict[str, list[Entry]]:
    """The decisions about one version, and every alias move of the model, from the log's
    entries (read once by the caller)."""
    target = resource(name, version)
    decisions: list[Entry] = []
    aliases: list[Entry] = []
    for e in entries:
        if e.action in ("model.approve", "model.reject") and e.resource == target:
            decisions.append(e)
        elif (
            e.action == "model.alias" and e.outcome == "ok" and e.resource.rsplit("/", 1)[0] == name
        ):
            aliases.append(e)
    return {"decisions": decisions, "alias_moves": aliases}


def aliases_from_log(moves: Iterable[Entry]) -> dict[str, str]:
    """Where each alias points, replaying the logged moves in order."""
    state: dict[str, str] = {}
    for move in moves:
        alias, to = str(move.details.get("alias")), str(move.details.get("to_version", ""))
        if to:
            state[alias] = to
        else:
            state.pop(alias, None)
    return state


def _now(session: Governance) -> str:
    return dt.datetime.fromtimestamp(session.clock(), tz=dt.UTC).isoformat(timespec="seconds")
