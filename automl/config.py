"""Typed, validated models of params.yaml, one section per stage.

Every knob of the pipeline lives in params.yaml; this module is the only place that reads it.
Validation errors name the key path, the bad value and what is allowed, e.g.
``params.yaml: split.test_size = 1.5: must be between 0 and 1``. Values of keys that may hold
secrets (database URLs) are never echoed.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from automl.exceptions import ConfigError

DEFAULT_PARAMS_PATH = "params.yaml"
# Keys whose values may carry credentials: never shown in an error message.
_SENSITIVE_KEYS = frozenset({"url", "password", "token"})


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
Seed = Annotated[int, AfterValidator(_at_least(0))]


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
        if self.url is not None and urlsplit(self.url).password:
            raise ValueError(
                "url contains a password, and params.yaml is committed to git: put the URL in an "
                "environment variable and set url_env to its name instead"
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


class SplitParams(Section):
    """``split``: the held-out test split and the cross-validation folds used on the rest."""

    test_size: OpenFraction = 0.2
    cv_folds: Annotated[int, AfterValidator(_at_least(2))] = 5
    seed: Seed = 42
    stratify: bool = True
    time_column: str | None = None


class Params(Section):
    """The whole of params.yaml."""

    data: DataParams
    ingest: IngestParams
    prepare: PrepareParams = PrepareParams()
    split: SplitParams = SplitParams()


# --------------------------------------------------------------------------------------------
# loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


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
    try:
        return Params.model_validate(dict(raw))
    except ValidationError as exc:
        lines = [f"{source}: {format_error(err)}" for err in exc.errors()]
        lines.append("See docs/configuration.md for every key and its allowed values.")
        raise ConfigError("\n".join(lines)) from None


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    detail = f"{context}; {problem}" if context else problem
    return f"{where}invalid YAML: {detail}. Fix the syntax (indentation, ':' and quotes) there."


# --------------------------------------------------------------------------------------------
# error messages


def format_error(err: ErrorDetails) -> str:
    """One pydantic error as ``key.path = value: what is allowed``."""
    path, field_name = _display_path(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx", {})
    if kind == "missing":
        return f"{path}: is required but missing"
    if kind == "extra_forbidden":
        return f"{path}: unknown key{_suggest(err['loc'])}"
    if kind == "union_tag_not_found":
        tags = _union_tags(err["loc"])
        return f"{path}.type: is required; must be one of {tags}"
    shown = "<hidden>" if field_name in _SENSITIVE_KEYS else _show(err["input"])
    if kind == "value_error":
        reason = str(ctx.get("error", err["msg"]))
        if isinstance(err["input"], Mapping):
            return f"{path}: {reason}"
    elif kind == "literal_error":
        reason = f"must be one of {ctx.get('expected', '')}"
    elif kind == "union_tag_invalid":
        reason = f"must be one of {ctx.get('expected_tags', '')}"
        path = f"{path}.{ctx.get('discriminator', 'type').strip(chr(39))}"
        shown = _show(ctx.get("tag"))
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        reason = f"must be {_expected_kind(kind)}, not {_yaml_kind(err['input'])}"
    else:
        reason = err["msg"][0].lower() + err["msg"][1:]
    return f"{path} = {shown}: {reason}"


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{...}"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


_KIND_NAMES = {
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
}


def _expected_kind(error_type: str) -> str:
    base = error_type.removesuffix("_type").removesuffix("_parsing")
    return _KIND_NAMES.get(base, base)


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "true/false"),
        (int, "a whole number"),
        (float, "a decimal number"),
        (str, "a string"),
        (list, "a list"),
        (Mapping, "a mapping"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def _walk(loc: tuple[int | str, ...]) -> tuple[list[str], str | None, type[BaseModel] | None]:
    """Follow ``loc`` through the models, dropping the tags pydantic adds for unions.

    Returns the displayed path parts, the last field name and the model that owns the last part.
    """
    parts: list[str] = []
    model: type[BaseModel] | None = Params
    owner: type[BaseModel] | None = None
    field_name: str | None = None
    pending_union: dict[str, type[BaseModel]] | None = None
    for item in loc:
        if pending_union is not None:
            model = pending_union.get(str(item))
            pending_union = None
            continue
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
            continue
        parts.append(item)
        field_name = item
        owner = model
        field = model.model_fields.get(item) if model is not None else None
        if field is None:
            model = None
            continue
        members = _models_in(field.annotation)
        if field.discriminator is not None and members:
            pending_union = {_tag_of(m): m for m in members}
            model = None
        else:
            model = members[0] if len(members) == 1 else None
    return parts, field_name, owner


def _display_path(loc: tuple[int | str, ...]) -> tuple[str, str | None]:
    parts, field_name, _ = _walk(loc)
    return ".".join(parts) or "(top level)", field_name


def _suggest(loc: tuple[int | str, ...]) -> str:
    _, field_name, owner = _walk(loc)
    if owner is None or field_name is None:
        return ""
    allowed = list(owner.model_fields)
    close = difflib.get_close_matches(field_name, allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return f"{hint} Allowed keys here: {', '.join(allowed)}"


def _union_tags(loc: tuple[int | str, ...]) -> str:
    _, field_name, owner = _walk(loc)
    if owner is None or field_name is None or field_name not in owner.model_fields:
        return "the documented types"
    members = _models_in(owner.model_fields[field_name].annotation)
    return ", ".join(repr(_tag_of(m)) for m in members)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes inside an annotation (X, X | None, Annotated[A | B, ...])."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        found: list[type[BaseModel]] = []
        for arg in typing.get_args(annotation):
            found.extend(_models_in(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _tag_of(model: type[BaseModel]) -> str:
    (tag,) = typing.get_args(model.model_fields["type"].annotation)
    return str(tag)
