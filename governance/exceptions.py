"""Every error the governance library raises on purpose; the CLI maps them to exit codes."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class IntegrityError(GovernanceError):
    """A sealed object failed authentication: altered, truncated, reordered, swapped for
    another object, or opened with the wrong key. No plaintext of it is to be trusted."""

    exit_code = 4


class KeyUnavailableError(GovernanceError):
    """A key is missing, retired or shredded."""

    exit_code = 5


class AuditError(GovernanceError):
    """The audit log cannot be written or read as asked. Governed operations fail closed: when
    their entry cannot be written they do not happen."""

    exit_code = 6


class AccessDeniedError(GovernanceError):
    """The policy does not allow this actor this action on this resource (the denial itself is
    in the audit log)."""

    exit_code = 7
