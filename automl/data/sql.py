"""Reading a table from a database through SQLAlchemy, read-only, never showing a password."""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from automl.config import SqlSource
from automl.exceptions import SourceError, first_line
from automl.redact import redact_url, scrub

logger = logging.getLogger(__name__)
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def sql_url(source: SqlSource) -> str:
    """The URL of an SQL source, read from the environment when ``url_env`` is set."""
    if source.url is not None:
        return source.url
    assert source.url_env is not None  # guaranteed by SqlSource's validator
    value = os.environ.get(source.url_env)
    if not value:
        raise SourceError(
            f"ingest.source.url_env: the environment variable {source.url_env} is not set. Export "
            f"it with the database URL, e.g. {source.url_env}=postgresql+psycopg://user:password"
            "@host:5432/db"
        )
    return value


def read_sql(query: str, *, url: str) -> pd.DataFrame:
    """Run ``query`` through SQLAlchemy and return its rows; errors never show the password."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceError(
            "ingest.source: the database URL is not a valid SQLAlchemy URL; expected "
            "dialect+driver://user@host:port/database (e.g. postgresql+psycopg://...)."
        ) from None
    shown = redact_url(url)

    def clean(message: str) -> str:
        return scrub(message, url).rstrip(".")

    _check_read_only(query)
    database = parsed.database
    # SQLite would silently create an empty database at a mistyped path.
    is_sqlite_file = parsed.drivername.startswith("sqlite") and database not in (
        None,
        "",
        ":memory:",
    )
    if is_sqlite_file and not Path(str(database)).is_file():
        raise SourceError(
            f"ingest.source: the SQLite database {parsed.database} does not exist (relative "
            f"paths are read from {Path.cwd()}). Check the URL."
        )
    try:
        engine = create_engine(parsed)
    except NoSuchModuleError:
        raise SourceError(
            f"ingest.source: no SQLAlchemy dialect for {parsed.drivername!r} ({shown}); install "
            "its driver (for PostgreSQL: pip install 'automl-governance[postgres]')."
        ) from None
    except (ImportError, ArgumentError) as exc:
        raise SourceError(f"ingest.source: cannot use {shown}: {clean(first_line(exc))}") from None
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_query(text(query), conn)
    except SQLAlchemyError as exc:
        reason = clean(first_line(getattr(exc, "orig", None) or exc))
        raise SourceError(
            f"ingest.source.query failed on {shown}: {reason}. Check the query and that the "
            "database is reachable."
        ) from None
    finally:
        engine.dispose()
    if frame.shape[0] == 0:
        raise SourceError(f"ingest.source.query returned no rows from {shown}.")
    if not _ORDER_BY.search(query):
        logger.warning(
            "ingest.source.query has no ORDER BY: the database may return rows in another "
            "order next time, which changes the content hash and the split. Add an ORDER BY."
        )
    names = [str(c) for c in frame.columns]
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        raise SourceError(
            f"ingest.source.query returned duplicate column names {', '.join(map(repr, dupes))}; "
            "alias them (SELECT a.id AS a_id, ...)."
        )
    frame.columns = names
    return frame


_READ_ONLY_START = re.compile(r"^\s*(\(\s*)*(select|with|values|table)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"(--[^\n]*\n)|(/\*.*?\*/)", re.DOTALL)


def _check_read_only(query: str) -> None:
    """Ingest reads: a query that is not a SELECT (or WITH ... SELECT) is refused unrun."""
    if not _READ_ONLY_START.match(_COMMENTS.sub(" ", query + "\n")):
        raise SourceError(
            "ingest.source.query must be a read-only query starting with SELECT or WITH; "
            "ingest never changes the database."
        )
