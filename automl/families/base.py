"""The interface every model family implements: a search space, a builder, a fit check.

A family is one small module: its hyperparameters beside the estimator they configure. It also
declares what its inputs need (how categoricals are encoded, whether features are scaled), and
when it does not fit the data at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from automl.data.task import Task

Encoding = Literal["onehot", "ordinal", "native"]
ALL_TASKS: frozenset[Task] = frozenset({"binary", "multiclass", "regression"})

# Keys of a trial's parameters that configure the preprocessing (``target``: the regression
# target's, automl.target_transform), not the estimator.
PREPROCESS_KEYS = frozenset({"features", "features_keep", "target"})


class Space:
    """Suggests a family's hyperparameters under the family's name (``lightgbm.num_leaves``).

    Namespaced names keep Optuna's conditional space apart per family and line up as columns
    when trials are compared.
    """

    def __init__(self, trial: Any, prefix: str, *, early_stopping: bool = True) -> None:
        self._trial = trial
        self._prefix = prefix
        # Whether boosting fits stop early in this search (BuildContext.early_stopping): a
        # family may then search round ceilings it would not pay for in full.
        self.early_stopping = early_stopping

    def int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        return int(self._trial.suggest_int(f"{self._prefix}.{name}", low, high, log=log))

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._trial.suggest_float(f"{self._prefix}.{name}", low, high, log=log))

    def choice(self, name: str, options: Sequence[Any]) -> Any:
        return self._trial.suggest_categorical(f"{self._prefix}.{name}", list(options))


@dataclass(frozen=True)
class BuildContext:
    """What a builder may depend on besides the hyperparameters."""

    task: Task
    seed: int
    n_jobs: int = 1
    # Boosting families stop adding rounds on a held-out slice (automl.families.early_stopping).
    early_stopping: bool = True


class Family(ABC):
    """A model family. Subclasses set the class attributes and the two abstract methods."""

    name: ClassVar[str]
    tasks: ClassVar[frozenset[Task]] = ALL_TASKS
    encoding: ClassVar[Encoding] = "onehot"
    scale: ClassVar[bool] = False
    # Whether the search may fit it to a power-transformed regression target
    # (automl.target_transform). Tree ensembles may: their answers stay within the targets they
    # were fitted to. A linear model, an SVM or a network extrapolates, and mapped back through
    # an exponential-like inverse a few unusual rows get absurd answers (seen on ames_raw).
    power_target: ClassVar[bool] = False
    # Families whose cost grows too fast with the rows declare a limit and why.
    max_rows: ClassVar[int | None] = None
    max_rows_reason: ClassVar[str] = ""

    @abstractmethod
    def search_space(self, space: Space, task: Task) -> dict[str, Any]:
        """Suggest this family's hyperparameters; return them without the name prefix."""

    @abstractmethod
    def build(self, params: dict[str, Any], context: BuildContext) -> Any:
        """An unfitted scikit-learn estimator configured by ``params``."""

    def skip_reason(self, *, n_rows: int, n_features: int, task: Task) -> str | None:
        """Why this family does not fit the data (it is then left out), or None."""
        if task not in self.tasks:
            return f"{self.name} does not support {task} tasks"
        if self.max_rows is not None and n_rows > self.max_rows:
            return f"{self.name} skipped: {n_rows} rows > {self.max_rows}; {self.max_rows_reason}"
        return None

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Families are stateless; pickling by class keeps child processes cheap to start.
        return (type(self), ())


def split_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate preprocessing keys from estimator keys."""
    prep = {k: v for k, v in params.items() if k in PREPROCESS_KEYS}
    model = {k: v for k, v in params.items() if k not in PREPROCESS_KEYS}
    return prep, model


def feature_step_space(space: Space) -> dict[str, Any]:
    """Searchable feature selection or reduction, for families that work on scaled features."""
    features = space.choice("features", ["all", "select", "pca"])
    if features == "all":
        return {"features": "all"}
    return {"features": features, "features_keep": space.float("features_keep", 0.3, 0.95)}
