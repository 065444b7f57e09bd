"""Typed, validated models of params.yaml, one section per stage.

Every knob of the pipeline lives in params.yaml; this module is the only place that reads it.
Validation errors name the key path, the bad value and what is allowed, e.g.
``params.yaml: split.test_size = 1.5: must be between 0 and 1``. Values of keys that may hold
secrets (database URLs) are never echoed.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from automl.config_messages import format_error
from automl.exceptions import ConfigError
from automl.redact import has_secret

DEFAULT_PARAMS_PATH = "params.yaml"


def _between(
    low: float, high: float, *, include_low: bool = False, include_high: bool = False
) -> Callable[[float], float]:
    def check(value: float) -> float:
        above = value >= low if include_low else value > low
        below = value <= high if include_high else value < high
        if not (above and below):
            if include_low == include_high:
                edges = "" if not include_low else " (both included)"
                raise ValueError(f"must be between {low:g} and {high:g}{edges}")
            low_word = "at least" if include_low else "more than"
            high_word = "at most" if include_high else "less than"
            raise ValueError(f"must be {low_word} {low:g} and {high_word} {high:g}")
        return value

    return check


def _at_least(low: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise ValueError(f"must be at least {low}")
        return value

    return check


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


OpenFraction = Annotated[float, AfterValidator(_between(0, 1))]
HalfOpenFraction = Annotated[float, AfterValidator(_between(0, 1, include_high=True))]
NonEmptyStr = Annotated[str, AfterValidator(_not_blank)]


def _seed(value: int) -> int:
    if not 0 <= value < 2**32:
        raise ValueError("must be between 0 and 4294967295 (2**32 - 1)")
    return value


Seed = Annotated[int, AfterValidator(_seed)]


class Section(BaseModel):
    """Base of every params.yaml section: unknown keys and silent type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------------------------
# data: what the dataset is (shared by every stage)


class DataParams(Section):
    """``data``: the target column and the learning task."""

    target: NonEmptyStr
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"


# --------------------------------------------------------------------------------------------
# ingest


class DemoSource(Section):
    """The bundled demo credit-scoring dataset (see automl/data/demo/README.md)."""

    type: Literal["demo"]
    name: Literal["credit"] = "credit"


class CsvSource(Section):
    type: Literal["csv"]
    path: NonEmptyStr
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: NonEmptyStr = "utf-8"
    decimal: Literal[".", ","] = "."
    na_values: list[str] = Field(default_factory=list)


class ParquetSource(Section):
    type: Literal["parquet"]
    path: NonEmptyStr
    columns: list[str] | None = None


class SqlSource(Section):
    """A query through an SQLAlchemy URL, given inline (no password) or by environment variable."""

    type: Literal["sql"]
    query: NonEmptyStr
    url: str | None = None
    url_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> SqlSource:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                "set exactly one of url (an SQLAlchemy URL without a password) or url_env "
                "(the name of an environment variable holding the URL)"
            )
        if self.url is not None and has_secret(self.url):
            raise ValueError(
                "url contains a password or another secret, and params.yaml is committed to "
                "git: put the URL in an environment variable and set url_env to its name instead"
            )
        return self


Source = Annotated[DemoSource | CsvSource | ParquetSource | SqlSource, Field(discriminator="type")]


class IngestParams(Section):
    """``ingest``: where the raw data comes from."""

    source: Source


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


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


def _known_family(name: str) -> str:
    from automl.families import FAMILIES  # imported late: the families import this module

    if name not in FAMILIES:
        close = difflib.get_close_matches(name, list(FAMILIES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown model family; {hint}known: {', '.join(FAMILIES)}")
    return name


FamilyName = Annotated[str, AfterValidator(_known_family)]
PositiveSeconds = Annotated[float, AfterValidator(_positive)]
PositiveInt = Annotated[int, AfterValidator(_at_least(1))]


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

    @model_validator(mode="after")
    def _some_budget(self) -> SearchParams:
        if self.time_budget_s is None and self.n_trials is None:
            raise ValueError(
                "set time_budget_s, n_trials or both: with neither the search would not end"
            )
        if self.families is not None and not self.families:
            raise ValueError("families must name at least one family (or be null for all)")
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
    quality: dict[str, float] = {}
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


# --------------------------------------------------------------------------------------------
# evaluate, register and the model card: what reviewers read before a model may be used


class GroupParams(Section):
    """One sensitive attribute whose groups are compared; a numeric one is cut into bands."""

    column: NonEmptyStr
    bands: list[float] | None = None

    @model_validator(mode="after")
    def _ascending(self) -> GroupParams:
        if self.bands is not None:
            if not self.bands:
                raise ValueError("bands must list at least one cut point (or be null)")
            if any(b >= a for a, b in zip(self.bands[1:], self.bands, strict=False)):
                raise ValueError("bands must be cut points in ascending order, e.g. [25, 35, 50]")
        return self


class EvaluateParams(Section):
    """``evaluate``: confidence intervals of the test metrics, and metrics per group."""

    bootstrap: Annotated[int, Field(ge=0)] = 1000
    confidence: OpenFraction = 0.95
    seed: Seed = 0
    n_jobs: PositiveInt = 1
    groups: list[GroupParams] = Field(default_factory=list)
    min_group_size: PositiveInt = 30

    @model_validator(mode="after")
    def _distinct(self) -> EvaluateParams:
        names = [g.column for g in self.groups]
        if len(names) != len(set(names)):
            raise ValueError("groups must name each column once")
        if 0 < self.bootstrap < 100:
            raise ValueError("bootstrap must be 0 (no intervals) or at least 100 resamples")
        return self


FAIRNESS_MEASURES = {
    "demographic_parity_difference": "largest difference between groups in the rate of each "
    "predicted class (classification)",
    "equalized_odds_difference": "largest difference between groups in true- or false-positive "
    "rate (classification)",
    "score_gap": "difference between the best and the worst group in the search metric",
}


def _known_measure(name: str) -> str:
    if name not in FAIRNESS_MEASURES:
        close = difflib.get_close_matches(name, list(FAIRNESS_MEASURES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown fairness measure; {hint}known: {', '.join(FAIRNESS_MEASURES)}")
    return name


class GateParams(Section):
    """``register.gates``: what a model must pass to be registered as a candidate."""

    test_metrics: dict[str, float] = Field(default_factory=dict)
    max_cv_test_gap: Annotated[float, Field(ge=0)] | None = None
    fairness: dict[
        Annotated[str, AfterValidator(_known_measure)], Annotated[float, Field(ge=0)]
    ] = Field(default_factory=dict)
    monitoring: Literal["pass", "warn", "fail"] = "warn"


class RegisterParams(Section):
    """``register``: the promotion gates in front of the model registry."""

    gates: GateParams = GateParams()


class ModelCardParams(Section):
    """``model_card``: what only people can say about the model, quoted in the report."""

    owner: str | None = None
    contact: str | None = None
    description: str | None = None
    intended_use: str | None = None
    intended_users: str | None = None
    out_of_scope_uses: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    ethical_considerations: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    metric_rationale: str | None = None
    human_oversight: str | None = None
    risk_management: str | None = None
    post_market_monitoring: str | None = None
    standards: list[str] = Field(default_factory=list)
    declaration_of_conformity: str | None = None
    license: str | None = None


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
