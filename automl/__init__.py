"""automl: the ML side of automl-governance (data, search, tracking, evaluation, monitoring)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("automl-governance")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
