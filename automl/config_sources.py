"""``ingest``: where the raw data comes from (one section of params.yaml, see config.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from automl.config_types import NonEmptyStr, Section
from automl.redact import has_secret


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
