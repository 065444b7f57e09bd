"""Read a dataset from any source params.yaml can name: CSV, Parquet, SQL, the demo data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from automl.config import CsvSource, DemoSource, ParquetSource, Source
from automl.data.files import file_facts, read_csv, read_parquet
from automl.data.sql import read_sql, sql_url
from automl.exceptions import SourceError
from automl.redact import redact_url

__all__ = ["describe_source", "load_demo", "load_source", "read_csv", "read_parquet", "read_sql"]

_DEMO_FILES = {"credit": "credit_data.csv"}


def load_source(source: Source) -> pd.DataFrame:
    """Read the dataset ``source`` describes into a DataFrame with string column names."""
    if isinstance(source, DemoSource):
        return load_demo(source.name)
    if isinstance(source, CsvSource):
        return read_csv(
            source.path,
            delimiter=source.delimiter,
            encoding=source.encoding,
            decimal=source.decimal,
            na_values=source.na_values,
        )
    if isinstance(source, ParquetSource):
        return read_parquet(source.path, columns=source.columns)
    return read_sql(source.query, url=sql_url(source))


def load_demo(name: str = "credit") -> pd.DataFrame:
    """The bundled demo dataset (credit scoring; provenance in automl/data/demo/README.md)."""
    if name not in _DEMO_FILES:
        raise SourceError(f"unknown demo dataset {name!r}; available: {', '.join(_DEMO_FILES)}")
    ref = resources.files("automl.data") / "demo" / _DEMO_FILES[name]
    with resources.as_file(ref) as path:
        return read_csv(path)


def describe_source(source: Source) -> dict[str, Any]:
    """Lineage facts about the source, safe to store: file hashes, never a password."""
    if isinstance(source, DemoSource):
        ref = resources.files("automl.data") / "demo" / _DEMO_FILES[source.name]
        with resources.as_file(ref) as path:
            return {"type": "demo", "name": source.name, **file_facts(path)}
    if isinstance(source, CsvSource | ParquetSource):
        return {"type": source.type, "path": source.path, **file_facts(Path(source.path))}
    return {
        "type": "sql",
        "url": redact_url(sql_url(source)),
        "url_env": source.url_env,
        "query": source.query,
    }
