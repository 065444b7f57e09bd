"""One governed session: who is acting, under which policy, with which keys, audited where.

:func:`open_governance` builds it from settings (the CLI's options, params.yaml's
``governance`` section, or the ``GOVERNANCE_*`` environment variables the MLflow plugin
reads); everything it hands out (sealed files, stores, key operations, recorded events) asks
the policy first and writes the audit entry before the operation takes effect.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from governance.audit import AuditBackend, AuditLog, Event
from governance.keys import KeyRef, LocalKeyring
from governance.policy import Policy, current_actor
from governance.sealed import Operation, Scalar, SealedFiles, Sealer
from governance.store import SealedStore

DEFAULT_AUDIT = ".audit"


def audit_backend(location: str | os.PathLike[str]) -> AuditBackend:
    """A directory (the default ``.audit``), or a PostgreSQL URL."""
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgresql+", "postgres://")):
        from governance.audit_pg import PostgresAuditBackend

        return PostgresAuditBackend(text)
    from governance.audit_file import FileAuditBackend

    return FileAuditBackend(text)


class AuditListener:
    """Turns store operations into audit entries (raising if one cannot be written)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def __call__(self, operation: Operation) -> None:
        self.log.append(
            Event(
                operation.actor, operation.action, operation.resource, operation.outcome,
                dict(operation.details),
            )
        )  # fmt: skip


@dataclass
class Governance:
    keyring: LocalKeyring
    audit: AuditLog
    policy: Policy
    actor: str
    clock: Callable[[], float] = time.time
    _listener: AuditListener = field(init=False)

    def __post_init__(self) -> None:
        self._listener = AuditListener(self.audit)

    # -- decisions and records -----------------------------------------------------------------

    def require(self, permission: str, resource: str, *, action: str | None = None) -> None:
        """Allow or deny (a denial is audited, then raised)."""
        self.sealer().require(permission, action or permission, resource)

    def record(
        self, action: str, resource: str, outcome: str,
        details: Mapping[str, Scalar] | None = None, *, sensitive: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Append one entry for an action governed elsewhere (a registration, an approval)."""
        self.audit.append(
            Event(self.actor, action, resource, outcome, dict(details or {}), dict(sensitive or {}))
        )

    # -- what it hands out ---------------------------------------------------------------------

    def sealer(self, **options: object) -> Sealer:
        return Sealer(
            self.keyring, actor=self.actor, listeners=[self._listener], policy=self.policy,
            clock=self.clock, **options,  # type: ignore[arg-type]
        )  # fmt: skip

    def files(self) -> SealedFiles:
        return SealedFiles(self.sealer())

    def store(self, location: str | os.PathLike[str], **options: object) -> SealedStore:
        return SealedStore(location, self.keyring, sealer=self.sealer(**options))

    # -- key operations --------------------------------------------------------------------------

    def _governed(self, permission: str, resource: str, run: Callable[[], object]) -> None:
        """Check, audit (before: fail closed), run; a failure is audited too."""
        self.require(permission, resource, action=permission)
        self.record(permission, resource, "ok")
        try:
            run()
        except Exception as exc:
            self.record(permission, resource, "error", {"error": type(exc).__name__})
            raise

    def init_keys(self, kek_id: str = "local-kek") -> KeyRef:
        """Create the keyring; its audit entry follows, signed with the audit key it made."""
        self.require("keys.init", "keyring", action="keys.init")
        ref = self.keyring.init(kek_id)
        self.audit.keys = self.keyring.audit_keys()
        self.record("keys.init", "keyring", "ok", {"kek": f"{ref.kek_id} v{ref.version}"})
        return ref

    def rotate_keys(self) -> None:
        self._governed("keys.rotate", "keyring", self.keyring.rotate)

    def shred(self, object_id: str) -> None:
        self._governed("keys.shred", object_id, lambda: self.keyring.shred(object_id))

    def shred_version(self, version: int) -> None:
        self._governed("keys.shred", f"kek-v{version}", lambda: self.keyring.shred_version(version))

    def close(self) -> None:
        """Sign a checkpoint of what this session appended."""
        self.audit.close()


def open_governance(
    *,
    keyring: str | os.PathLike[str] = ".keys",
    audit: str | os.PathLike[str] | None = None,
    policy: str | os.PathLike[str] | None = None,
    actor: str | None = None,
    clock: Callable[[], float] = time.time,
    checkpoint_every: int = 1000,
) -> Governance:
    """A governed session from settings; ``None`` falls back to ``GOVERNANCE_AUDIT``,
    ``GOVERNANCE_POLICY`` and ``GOVERNANCE_ACTOR``, then the defaults (``.audit``, no
    policy file, the OS user)."""
    ring = LocalKeyring(Path(keyring), clock=clock)
    where = audit if audit is not None else os.environ.get("GOVERNANCE_AUDIT", DEFAULT_AUDIT)
    policy_file = policy if policy is not None else os.environ.get("GOVERNANCE_POLICY") or None
    rules = Policy.load(policy_file) if policy_file else Policy.allow_all()
    log = AuditLog(
        audit_backend(where), keys=ring.audit_keys() if ring.exists() else None,
        clock=clock, checkpoint_every=checkpoint_every,
    )  # fmt: skip
    session = Governance(ring, log, rules, actor or current_actor(), clock)
    return session
