"""Who may do what to which resource: identities, roles and permissions from a policy file.

    # policy.yaml
    identities:              # actor -> roles (the actor is GOVERNANCE_ACTOR or the OS user)
      alice: [data-scientist]
      bob: [approver]
      ci: [pipeline]
    default_roles: []        # roles of every actor not listed ([] denies them everything)
    roles:
      pipeline:
        artifact.*: ["*"]    # permission (glob) -> resources (globs of object ids)
        model.register: ["*"]
      data-scientist:
        artifact.read: ["dataset-*", "train-*", "test-*"]
      approver:
        model.approve: ["*"]
        model.promote: ["*"]
        audit.read: ["*"]

Without a policy file every actor may do everything, and the audit log still records who did
it. Decisions are made in the library (every governed operation asks the policy first), and
every denial is audited by the caller that asked.

Threat model, plainly: the actor's name is not authenticated, and with a local keyring anyone
who can read the key files can decrypt without asking this code. Here the policy prevents
mistakes and records intent; stopping a user with disk access takes keys in an external KMS or
HSM whose own access control checks the same identities.
"""

from __future__ import annotations

import difflib
import fnmatch
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.exceptions import GovernanceError

PERMISSIONS = {
    "artifact.read": "unseal an artifact (a model, a dataset, an MLflow artifact)",
    "artifact.write": "seal a new artifact",
    "artifact.delete": "delete a sealed artifact",
    "artifact.verify": "verify sealed artifacts",
    "keys.init": "create a keyring",
    "keys.rotate": "rotate the key-encryption key",
    "keys.shred": "destroy a data key or a KEK version (erasure)",
    "audit.read": "read and export the audit log",
    "model.register": "register a model version",
    "model.approve": "approve a model version for promotion",
    "model.promote": "promote a model version",
}


class PolicyError(GovernanceError):
    """The policy file is missing or malformed."""

    exit_code = 2


def current_actor() -> str:
    """``GOVERNANCE_ACTOR`` if set, else the OS user."""
    return os.environ.get("GOVERNANCE_ACTOR") or getpass.getuser()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class Policy:
    """Roles of each identity and what each role grants; ``None`` roles means allow all."""

    identities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    roles: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None
    default_roles: tuple[str, ...] = ()
    source: str = "no policy file (everything allowed)"

    @classmethod
    def allow_all(cls) -> Policy:
        return cls()

    def decide(self, actor: str, permission: str, resource: str) -> Decision:
        if permission not in PERMISSIONS:
            raise PolicyError(f"unknown permission {permission!r}")
        if self.roles is None:
            return Decision(True, self.source)
        roles = self.identities.get(actor, self.default_roles)
        for role in roles:
            for granted, resources in self.roles.get(role, {}).items():
                if fnmatch.fnmatchcase(permission, granted) and any(
                    fnmatch.fnmatchcase(resource, pattern) for pattern in resources
                ):
                    return Decision(True, f"role {role!r} grants {granted} on {resource}")
        held = ", ".join(roles) if roles else "no role"
        return Decision(False, f"{actor!r} ({held}) may not {permission} {resource!r}")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        import yaml

        file = Path(path)
        if not file.is_file():
            raise PolicyError(f"policy file {file} not found; fix the path or remove the setting")
        try:
            raw = yaml.safe_load(file.read_text())
        except yaml.YAMLError as exc:
            raise PolicyError(f"policy file {file}: not valid YAML ({exc})") from None
        return cls.from_mapping(raw, source=str(file))

    @classmethod
    def from_mapping(cls, raw: Any, *, source: str) -> Policy:
        where = f"policy file {source}"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: expected a mapping with identities and roles")
        unknown = set(raw) - {"identities", "roles", "default_roles", "version"}
        if unknown:
            raise PolicyError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: identities, roles, "
                "default_roles"
            )
        roles_raw = raw.get("roles") or {}
        if not isinstance(roles_raw, dict):
            raise PolicyError(f"{where}: roles must map role names to their grants")
        roles: dict[str, dict[str, tuple[str, ...]]] = {}
        for role, grants in roles_raw.items():
            if not isinstance(grants, dict):
                raise PolicyError(
                    f"{where}: roles.{role} must map permissions to lists of resource patterns"
                )
            roles[str(role)] = {}
            for permission, given in grants.items():
                _check_permission(str(permission), f"{where}: roles.{role}")
                resources = [given] if isinstance(given, str) else given
                if not isinstance(resources, list) or not all(
                    isinstance(r, str) for r in resources
                ):
                    raise PolicyError(
                        f"{where}: roles.{role}.{permission} must be a list of resource "
                        'patterns, e.g. ["*"] or ["model-*"]'
                    )
                roles[str(role)][str(permission)] = tuple(resources)
        identities: dict[str, tuple[str, ...]] = {}
        for actor, names in (raw.get("identities") or {}).items():
            identities[str(actor)] = _role_list(names, roles, f"{where}: identities.{actor}")
        defaults = _role_list(raw.get("default_roles") or [], roles, f"{where}: default_roles")
        return cls(identities, roles, defaults, source)


def _check_permission(permission: str, where: str) -> None:
    if any(fnmatch.fnmatchcase(p, permission) for p in PERMISSIONS):
        return
    close = difflib.get_close_matches(permission, list(PERMISSIONS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise PolicyError(
        f"{where}: {permission!r} is no permission{hint}; known: {', '.join(sorted(PERMISSIONS))}"
    )


def _role_list(names: Any, roles: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        raise PolicyError(f"{where} must be a list of role names")
    for name in names:
        if name not in roles:
            close = difflib.get_close_matches(str(name), list(roles), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PolicyError(f"{where}: no role {name!r}{hint}")
    return tuple(str(n) for n in names)
