"""Every error the automl library raises on purpose.

One module, as in scikit-learn: callers catch :class:`AutoMLError` and the CLI turns it into a
message and an exit code in one place (:mod:`automl.cli`). Messages are written for the person at
the terminal: what was wrong, where, and how to fix it, in one paragraph, without secrets.
"""

from __future__ import annotations


class AutoMLError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(AutoMLError, ValueError):
    """params.yaml (or a keyword argument) is malformed, unknown or out of range."""

    exit_code = 2


class DataError(AutoMLError, ValueError):
    """An input dataset cannot be read or fails a check that makes it unusable."""

    exit_code = 3


class SourceError(DataError):
    """A data source (file, database) cannot be reached or read."""


class SearchError(AutoMLError):
    """The search could not produce a model (every trial failed, or none could run)."""


class GateError(AutoMLError):
    """The model failed a promotion gate: recorded with its reasons, not registered."""

    exit_code = 8


def first_line(exc: object) -> str:
    """The first line of an exception's message (or its type's name), for one-line reasons."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
