"""The building blocks of params.yaml's sections: the strict base model and checked types."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


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


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


PositiveSeconds = Annotated[float, AfterValidator(_positive)]
PositiveInt = Annotated[int, AfterValidator(_at_least(1))]


def require_known(name: str, known: Collection[str], what: str) -> str:
    """``name`` if it is one of ``known``; else a ValueError with the closest and all."""
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown {what}; {hint}known: {', '.join(known)}")
    return name
