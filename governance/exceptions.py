"""Every error the governance library raises on purpose; the CLI maps them to exit codes."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1
