"""Governance: sealed artifacts, keys, a tamper-evident audit log, access policy, reports.

A general library: it sees bytes, files, identities and manifests, and never imports automl.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("automl-governance")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
