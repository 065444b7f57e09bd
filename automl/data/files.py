"""Reading CSV and Parquet files, refusing what is not the data it claims to be.

Each check turns a way real files go wrong (missing, empty, binary, compressed wrongly,
mis-delimited, duplicate or unnamed headers) into a :class:`~automl.exceptions.SourceError`
that says what to change in params.yaml.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from automl.exceptions import SourceError, first_line

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


def file_facts(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


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
            f"{key}: {file} is not well-formed CSV: {first_line(exc)}. Check "
            "ingest.source.delimiter and that quoted fields are closed."
        ) from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(
            f"{key}: {file} cannot be decoded as {encoding}: {first_line(exc)}. Set "
            "ingest.source.encoding to the file's encoding (e.g. latin-1)."
        ) from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise SourceError(f"{key}: {file} cannot be read: {first_line(exc)}.") from None
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
            f"ingest.source.path: {file} cannot be decompressed ({first_line(exc)}); check "
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
            f"{key}: {file} is not a readable Parquet file ({first_line(exc)}). If it is a CSV "
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
        raise SourceError(f"{key}: {file} cannot be read: {first_line(exc)}.") from None
    if frame.shape[0] == 0:
        raise SourceError(f"{key}: {file} has no rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _preview(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
