"""Typed, validated models of params.yaml, one section per stage.

Every knob of the pipeline lives in params.yaml; this module is the only place that reads it
(the sections of evaluate, register and model_card are in config_release.py, the ingest
sources in config_sources.py, the base model and checked types in config_types.py; all are
importable from here).
Validation errors name the key path, the bad value and what is allowed, e.g.
``params.yaml: split.test_size = 1.5: must be between 0 and 1``. Values of keys that may hold
secrets (database URLs) are never echoed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard

import yaml
from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    model_validator,
)

from automl.config_messages import format_error
from automl.config_release import (
    FAIRNESS_MEASURES,
    EvaluateParams,
    GateParams,
    GroupParams,
    ModelCardParams,
    RegisterParams,
)
from automl.config_sources import (
    CsvSource,
    DemoSource,
    IngestParams,
    ParquetSource,
    Source,
    SqlSource,
)
from automl.config_types import (
    HalfOpenFraction,
    NonEmptyStr,
    OpenFraction,
    PositiveInt,
    PositiveSeconds,
    Section,
    Seed,
    _at_least,
    require_known,
)
from automl.exceptions import ConfigError
from automl.redact import has_secret, redact_url

DEFAULT_PARAMS_PATH = "params.yaml"
__all__ = [
    "DEFAULT_PARAMS_PATH",
    "FAIRNESS_MEASURES",
    "CsvSource",
    "DataParams",
    "DemoSource",
    "EvaluateParams",
    "GateParams",
    "GovernanceParams",
    "GroupParams",
    "IngestParams",
    "ModelCardParams",
    "MonitorParams",
    "Params",
    "ParquetSource",
    "PrepareParams",
    "RegisterParams",
    "SearchParams",
    "Source",
    "SplitParams",
    "SqlSource",
    "TrackingParams",
    "TrainParams",
    "load_params",
    "parse_params",
]


# --------------------------------------------------------------------------------------------
# data: what the dataset is (shared by every stage)


class DataParams(Section):
    """``data``: the target column and the learning task."""

    target: NonEmptyStr
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"


# --------------------------------------------------------------------------------------------
# prepare and split


class PrepareParams(Section):
    """``prepare``: data checks before splitting."""

    drop_columns: list[str] = Field(default_factory=list)
    drop_constant_columns: bool = True
    max_classes: Annotated[int, AfterValidator(_at_least(2))] = 20
    leakage_threshold: HalfOpenFraction = 0.95
    fail_on_leakage: bool = False
    protected_columns: list[str] = Field(default_factory=list)


class SplitParams(Section):
    """``split``: the held-out test split and the cross-validation folds used on the rest."""

    test_size: OpenFraction = 0.2
    cv_folds: Annotated[int, AfterValidator(_at_least(2))] = 5
    seed: Seed = 42
    stratify: bool = True
    time_column: str | None = None
    time_format: str | None = None


# --------------------------------------------------------------------------------------------
# search and train


def _known_family(name: str) -> str:
    from automl.families import FAMILIES  # imported late: the families import this module

    return require_known(name, FAMILIES, "model family")


FamilyName = Annotated[str, AfterValidator(_known_family)]


def is_server_storage(url: str | None) -> TypeGuard[str]:
    """Whether ``url`` is an Optuna storage on a database server (shareable across hosts)."""
    return url is not None and url.startswith(("postgresql", "mysql"))


class SearchParams(Section):
    """``search``: the AutoML search (also the keyword parameters of the estimators)."""

    metric: NonEmptyStr = "auto"
    time_budget_s: PositiveSeconds | None = 60.0
    n_trials: PositiveInt | None = None
    families: list[FamilyName] | None = None
    n_jobs: PositiveInt = 1
    seed: Seed = 0
    storage: str | None = None
    study_name: str | None = None
    trial_time_limit_s: PositiveSeconds | None = None
    memory_limit_mb: Annotated[int, AfterValidator(_at_least(256))] | None = None
    pruning: bool = True
    pruner: Literal["percentile", "hyperband"] = "percentile"
    portfolio: bool = True
    ensemble: bool = True
    stack: bool = True
    target_transform: bool = True
    early_stopping: bool = True
    # Scale-out (docs/deployment.md): the study is shared with `automl worker` processes.
    shared: bool = False
    heartbeat_interval_s: PositiveInt = 10
    heartbeat_grace_s: PositiveInt = 60
    max_retry: Annotated[int, AfterValidator(_at_least(0))] = 2

    @model_validator(mode="after")
    def _some_budget(self) -> SearchParams:
        if self.time_budget_s is None and self.n_trials is None:
            raise ValueError(
                "set time_budget_s, n_trials or both: with neither the search would not end"
            )
        if self.families is not None and not self.families:
            raise ValueError("families must name at least one family (or be null for all)")
        if self.shared and not is_server_storage(self.storage):
            raise ValueError(
                "shared: true needs a database server that workers on other hosts reach: set "
                "storage to a postgresql:// (or mysql://) URL, not "
                f"{redact_url(self.storage) if self.storage else 'null (in memory)'}"
            )
        if self.heartbeat_grace_s < 2 * self.heartbeat_interval_s:
            raise ValueError(
                f"heartbeat_grace_s = {self.heartbeat_grace_s} must be at least twice "
                f"heartbeat_interval_s = {self.heartbeat_interval_s}: a worker that is merely "
                "slow to beat would otherwise be taken for dead and its trial run twice"
            )
        if self.storage is not None and has_secret(self.storage):
            # The storage URL is shown in logs, MLflow params and the leaderboard's summary.
            raise ValueError(
                "storage contains a password or another secret: give the database password "
                "through PGPASSWORD or ~/.pgpass (libpq reads both) instead"
            )
        return self


class TrainParams(Section):
    """``train``: the final refit of the best pipeline on all training rows."""

    n_jobs: PositiveInt = 1


class TrackingParams(Section):
    """``tracking``: where MLflow records searches, trials, models and evaluations."""

    enabled: bool = True
    uri: NonEmptyStr = "sqlite:///mlflow.db"
    experiment: NonEmptyStr = "automl"
    registered_model: NonEmptyStr = "automl-model"

    @model_validator(mode="after")
    def _no_secret(self) -> TrackingParams:
        if has_secret(self.uri):
            raise ValueError(
                "uri contains a password or another secret: give MLflow's credentials through "
                "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD instead"
            )
        return self


class MonitorParams(Section):
    """``monitor``: the batch to check against the training data, and when it fails."""

    current: Source | None = None
    drift_share_warn: Annotated[float, Field(ge=0, le=1)] = 0.2
    drift_share_fail: Annotated[float, Field(gt=0, le=1)] = 0.5
    num_method: NonEmptyStr | None = None
    cat_method: NonEmptyStr | None = None
    num_threshold: Annotated[float, Field(gt=0)] | None = None
    cat_threshold: Annotated[float, Field(gt=0)] | None = None
    quality: dict[str, float] = Field(default_factory=dict)
    sample_rows: Annotated[int, Field(ge=100)] | None = 100_000
    seed: Annotated[int, Field(ge=0)] = 0
    workspace: NonEmptyStr | None = ".evidently"

    @model_validator(mode="after")
    def _ordered(self) -> MonitorParams:
        if self.drift_share_warn > self.drift_share_fail:
            raise ValueError("drift_share_warn must not be above drift_share_fail")
        return self


class GovernanceParams(Section):
    """``governance``: what the pipeline seals, and with which keys."""

    keyring: NonEmptyStr = ".keys"
    store: NonEmptyStr = ".store"
    audit: NonEmptyStr = ".audit"
    policy: NonEmptyStr | None = None
    seal_datasets: bool = True
    seal_tracking_artifacts: bool = True

    @model_validator(mode="after")
    def _no_secret(self) -> GovernanceParams:
        if has_secret(self.store):
            raise ValueError(
                "store contains a password or another secret: give the filesystem's "
                "credentials through its usual environment variables or config instead"
            )
        if has_secret(self.audit):
            raise ValueError(
                "audit contains a password: give PostgreSQL's password through PGPASSWORD or "
                "~/.pgpass instead"
            )
        return self


# ``register`` is also ABCMeta's class method, which pydantic warns about; instances (all that
# reads params) see the field.
warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


class Params(Section):
    """The whole of params.yaml."""

    data: DataParams
    ingest: IngestParams
    prepare: PrepareParams = PrepareParams()
    split: SplitParams = SplitParams()
    search: SearchParams = SearchParams()
    train: TrainParams = TrainParams()
    tracking: TrackingParams = TrackingParams()
    evaluate: EvaluateParams = EvaluateParams()
    monitor: MonitorParams = MonitorParams()
    register: RegisterParams = RegisterParams()
    model_card: ModelCardParams = ModelCardParams()
    governance: GovernanceParams = GovernanceParams()


# --------------------------------------------------------------------------------------------
# loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one) and reads
    booleans as YAML 1.2 does, like DVC: only true/false, so ``yes`` stays a string."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first defined on line {seen[key].start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_params(path: str | Path = DEFAULT_PARAMS_PATH) -> Params:
    """Read and validate params.yaml; raise :class:`ConfigError` naming every bad key."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: file not found. Run from the project root, or pass --params with the path "
            "to your params.yaml."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read as UTF-8 text ({exc}).") from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: {_describe_yaml_error(exc)}") from None
    return parse_params(raw, source=str(file))


def parse_params(raw: Any, *, source: str = DEFAULT_PARAMS_PATH) -> Params:
    """Validate an already-parsed mapping (e.g. from ``dvc.api.params_show()``)."""
    if not isinstance(raw, Mapping):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            f"{source}: must be a mapping of sections (data, ingest, prepare, split), "
            f"but it is {kind}."
        )
    # A section whose keys are all commented out parses as null: it means "all defaults".
    sections = {k: ({} if v is None and k in Params.model_fields else v) for k, v in raw.items()}
    try:
        return Params.model_validate(sections)
    except ValidationError as exc:
        lines = [f"{source}: {format_error(err, Params)}" for err in exc.errors()]
        lines.append("See docs/configuration.md for every key and its allowed values.")
        raise ConfigError("\n".join(lines)) from None


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    detail = f"{context}; {problem}" if context else problem
    return f"{where}invalid YAML: {detail}. Fix the syntax (indentation, ':' and quotes) there."
