"""Validation errors of params.yaml as one line each: ``key.path = value: what is allowed``.

pydantic's own messages name internal locations (union tags) and echo every value; these name
the key as the user wrote it, suggest the closest key for a typo, and hide values that may hold
credentials.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import BaseModel
from pydantic_core import ErrorDetails

# Keys whose values may carry credentials: never shown in an error message.
_SENSITIVE_KEYS = frozenset({"url", "password", "token"})


def format_error(err: ErrorDetails, root: type[BaseModel]) -> str:
    """One pydantic error as ``key.path = value: what is allowed``."""
    path, field_name = _display_path(err["loc"], root)
    kind = err["type"]
    ctx = err.get("ctx", {})
    if kind == "missing":
        return f"{path}: is required but missing"
    if kind == "extra_forbidden":
        return f"{path}: unknown key{_suggest(err['loc'], root)}"
    if kind == "union_tag_not_found":
        tags = _union_tags(err["loc"], root)
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


def _walk(
    loc: tuple[int | str, ...], root: type[BaseModel]
) -> tuple[list[str], str | None, type[BaseModel] | None]:
    """Follow ``loc`` through the models, dropping the tags pydantic adds for unions.

    Returns the displayed path parts, the last field name and the model that owns the last part.
    """
    parts: list[str] = []
    model: type[BaseModel] | None = root
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
        if item in ("[key]", "*"):
            # pydantic's mark of a bad mapping key (the key is already shown), and the
            # "every attribute" key a single fairness limit is read into.
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


def _display_path(loc: tuple[int | str, ...], root: type[BaseModel]) -> tuple[str, str | None]:
    parts, field_name, _ = _walk(loc, root)
    return ".".join(parts) or "(top level)", field_name


def _suggest(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    _, field_name, owner = _walk(loc, root)
    if owner is None or field_name is None:
        return ""
    allowed = list(owner.model_fields)
    close = difflib.get_close_matches(field_name, allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return f"{hint} Allowed keys here: {', '.join(allowed)}"


def _union_tags(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    _, field_name, owner = _walk(loc, root)
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
