"""Read a dataset from any source params.yaml can name: CSV, Parquet, SQL, the demo data.

Each reader turns the ways real inputs go wrong (missing, empty, binary, mis-delimited, broken
SQL) into a :class:`~automl.exceptions.SourceError` that says what to change. Database URLs are
never echoed with their password.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import logging
import os
import re
import zipfile
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from automl.config import CsvSource, DemoSource, ParquetSource, Source, SqlSource
from automl.exceptions import SourceError
from automl.redact import redact_url, scrub

_SNIFF_BYTES = 64 * 1024
_OPENERS = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma", ".zip": "zip"}
_COMPRESSED_SUFFIXES = frozenset({*_OPENERS, ".zst", ".tar"})
# A header line longer than this is not a CSV header we can use.
_MAX_HEADER_BYTES = 32 * 1024 * 1024
_MAGIC = {
    b"PAR1": "a Parquet file (set ingest.source.type: parquet)",
    b"PK\x03\x04": "a zip archive or an Excel workbook (export it to CSV first)",
    b"\x1f\x8b": "a gzip file (name it *.csv.gz so it is decompressed)",
    b"SQLite format 3": "an SQLite database (use ingest.source.type: sql)",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
}
_DEMO_FILES = {"credit": "credit_data.csv"}
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
logger = logging.getLogger(__name__)


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
            return {"type": "demo", "name": source.name, **_file_facts(path)}
    if isinstance(source, CsvSource | ParquetSource):
        return {"type": source.type, "path": source.path, **_file_facts(Path(source.path))}
    return {
        "type": "sql",
        "url": redact_url(sql_url(source)),
        "url_env": source.url_env,
        "query": source.query,
    }


def _file_facts(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


# --------------------------------------------------------------------------------------------
# files


def _check_file(path: Path, key: str) -> None:
    if not path.exists():
        raise SourceError(
            f"{key}: file not found: {path} (relative paths are read from {Path.cwd()}). "
            "Check the path in params.yaml."
        )
    if path.is_dir():
        raise SourceError(f"{key}: {path} is a directory; point it at a single file.")
    if path.stat().st_size == 0:
        raise SourceError(f"{key}: {path} is empty (0 bytes). Export the data again.")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{key}: {path} is not readable by this user; check its permissions.")


def read_csv(
    path: str | os.PathLike[str],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    decimal: str = ".",
    na_values: list[str] | None = None,
) -> pd.DataFrame:
    """Read a delimited text file, refusing binary input and a delimiter that does not split."""
    file = Path(path)
    key = "ingest.source.path"
    _check_file(file, key)
    sample = _text_sample(file, encoding)
    _check_header(file, _header_line(file, encoding), delimiter)
    try:
        frame = pd.read_csv(
            file,
            sep=delimiter,
            encoding=encoding,
            decimal=decimal,
            na_values=na_values or None,
            low_memory=False,
            skipinitialspace=True,
            # Never take the first column as the index, even when rows end with a delimiter.
            index_col=False,
        )
    except pd.errors.EmptyDataError:
        raise SourceError(f"{key}: {file} has no columns (it holds only blank lines).") from None
    except pd.errors.ParserError as exc:
        raise SourceError(
            f"{key}: {file} is not well-formed CSV: {_first_line(exc)}. Check "
            "ingest.source.delimiter and that quoted fields are closed."
        ) from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(
            f"{key}: {file} cannot be decoded as {encoding}: {_first_line(exc)}. Set "
            "ingest.source.encoding to the file's encoding (e.g. latin-1)."
        ) from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise SourceError(f"{key}: {file} cannot be read: {_first_line(exc)}.") from None
    if frame.empty and len(frame.columns) > 0:
        raise SourceError(f"{key}: {file} has a header but no data rows.")
    if frame.shape[1] == 1:
        _refuse_single_column(file, sample, delimiter)
    frame.columns = [str(c).strip() for c in frame.columns]
    text = frame.select_dtypes(include="object")
    if not text.empty:
        # Stray spaces would make "yes" and "yes " two categories.
        frame[text.columns] = text.apply(lambda c: c.map(_strip))
    return frame


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _open_raw(file: Path) -> Any:
    """A binary reader of the file's content, decompressing by suffix as pandas does."""
    opener = _OPENERS.get(file.suffix.lower())
    if opener is None:
        return file.open("rb")
    if opener == "zip":
        archive = zipfile.ZipFile(file)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            archive.close()
            raise SourceError(
                f"ingest.source.path: {file} holds {len(members)} files; a zipped CSV must hold "
                "exactly one."
            )
        return archive.open(members[0])
    module = __import__(opener)
    return module.open(file, "rb")


def _read_head(file: Path, size: int, *, until_newline: bool = False) -> bytes:
    try:
        with _open_raw(file) as fh:
            head = fh.read(size)
            while until_newline and b"\n" not in head and len(head) < _MAX_HEADER_BYTES:
                more = fh.read(1 << 20)
                if not more:
                    break
                head += more
            return bytes(head)
    except SourceError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise SourceError(
            f"ingest.source.path: {file} cannot be decompressed ({_first_line(exc)}); check "
            "that its suffix matches its format."
        ) from None


def _text_sample(file: Path, encoding: str) -> str:
    head = _read_head(file, _SNIFF_BYTES)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise SourceError(
                f"ingest.source.path: {file} is not a CSV text file: it looks like {what}."
            )
    wide = encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32"))
    if b"\x00" in head and not wide:
        raise SourceError(
            f"ingest.source.path: {file} is not a CSV text file: it contains binary (NUL) bytes. "
            "Point ingest.source at the right file, or set its type (parquet, sql); for UTF-16 "
            "text set ingest.source.encoding: utf-16."
        )
    return _decode(file, head, encoding, final=len(head) < _SNIFF_BYTES)


def _decode(file: Path, head: bytes, encoding: str, *, final: bool) -> str:
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise SourceError(
            f"ingest.source.encoding = {encoding!r}: unknown encoding; use a Python codec name "
            "such as utf-8, latin-1 or cp1252."
        ) from None
    try:
        return str(decoder.decode(head, final=final))
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"ingest.source.path: {file} is not {encoding} text (undecodable byte at offset "
            f"{exc.start}). If it is text in another encoding, set ingest.source.encoding "
            "(e.g. latin-1); if it is not a CSV file, set ingest.source.type."
        ) from None


def _header_line(file: Path, encoding: str) -> str:
    head = _read_head(file, _SNIFF_BYTES, until_newline=True)
    # Not final: the head may end inside a multi-byte character (UTF-8, UTF-16).
    text = _decode(file, head, encoding, final=False)
    return text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""


def _check_header(file: Path, header_line: str, delimiter: str) -> None:
    if not header_line:
        return
    try:
        header = next(csv.reader([header_line], delimiter=delimiter))
    except csv.Error:
        return
    names = [h.strip() for h in header]
    dupes = sorted(name for name, n in Counter(names).items() if n > 1)
    if dupes:
        raise SourceError(
            f"ingest.source.path: {file} has duplicate column names in its header: "
            f"{', '.join(repr(d) for d in dupes)}. Rename them so each column is unique."
        )
    if len(names) > 1 and "" in names[:-1]:
        position = names.index("") + 1
        raise SourceError(
            f"ingest.source.path: {file} has an unnamed column (column {position} of the header). "
            "Give every column a name; if it is a saved index, drop it before exporting."
        )


def _refuse_single_column(file: Path, sample: str, delimiter: str) -> None:
    try:
        found = csv.Sniffer().sniff(sample, delimiters=",;\t|:").delimiter
    except csv.Error:
        found = None
    if found and found != delimiter:
        raise SourceError(
            f"ingest.source.delimiter = {delimiter!r}: {file} was read as a single column, "
            f"but its lines look delimited by {found!r}. Set ingest.source.delimiter: "
            f"{found!r}."
        )
    raise SourceError(
        f"ingest.source.path: {file} was read as a single column with delimiter "
        f"{delimiter!r}; a dataset needs the target and at least one feature. Check "
        "ingest.source.delimiter."
    )


def read_parquet(path: str | os.PathLike[str], *, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file (optionally only ``columns``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = Path(path)
    key = "ingest.source.path"
    _check_file(file, key)
    try:
        schema = pq.read_schema(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(
            f"{key}: {file} is not a readable Parquet file ({_first_line(exc)}). If it is a CSV "
            "file, set ingest.source.type: csv."
        ) from None
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise SourceError(
                f"ingest.source.columns: {', '.join(map(repr, missing))} not in {file}; it has: "
                f"{_preview(schema.names)}."
            )
    try:
        frame = pd.read_parquet(file, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{key}: {file} cannot be read: {_first_line(exc)}.") from None
    if frame.shape[0] == 0:
        raise SourceError(f"{key}: {file} has no rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


# --------------------------------------------------------------------------------------------
# SQL


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
        raise SourceError(f"ingest.source: cannot use {shown}: {clean(_first_line(exc))}") from None
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_query(text(query), conn)
    except SQLAlchemyError as exc:
        reason = clean(_first_line(getattr(exc, "orig", None) or exc))
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


# --------------------------------------------------------------------------------------------


_READ_ONLY_START = re.compile(r"^\s*(\(\s*)*(select|with|values|table)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"(--[^\n]*\n)|(/\*.*?\*/)", re.DOTALL)


def _check_read_only(query: str) -> None:
    """Ingest reads: a query that is not a SELECT (or WITH ... SELECT) is refused unrun."""
    if not _READ_ONLY_START.match(_COMMENTS.sub(" ", query + "\n")):
        raise SourceError(
            "ingest.source.query must be a read-only query starting with SELECT or WITH; "
            "ingest never changes the database."
        )


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _preview(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
