"""automl: the ML side of automl-governance (data, search, tracking, evaluation, monitoring).

``automl.AutoMLClassifier`` and ``automl.AutoMLRegressor`` are the search as scikit-learn
estimators; they are imported on first use so that the command line starts fast.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("automl-governance")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from automl.estimator import AutoMLClassifier, AutoMLRegressor

__all__ = ["AutoMLClassifier", "AutoMLRegressor", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("AutoMLClassifier", "AutoMLRegressor"):
        from automl import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
