"""Where sealed files live: a local directory, or any fsspec filesystem by URL.

A backend stores opaque files under flat relative names. It promises two things the store is
built on: a file appears whole or not at all (written to a temporary name, then published),
and publishing can refuse to replace an existing file. Only ciphertext passes through it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

TEMP_SUFFIX = ".tmp"


class Reader(ABC):
    """Random access to one stored file."""

    size: int
    #: Whether ``read_at`` may be called from several threads at once.
    concurrent: bool = False

    @abstractmethod
    def read_at(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset``; the bytes read (short only at the end)."""


class Backend(ABC):
    """Flat names (``objects/<id>.sealed``) to files."""

    @abstractmethod
    def reader(self, name: str) -> contextlib.AbstractContextManager[Reader]:
        """Open ``name`` for reading; :class:`FileNotFoundError` if it is not there."""

    @abstractmethod
    def writer(
        self, name: str, *, replace: bool = False
    ) -> contextlib.AbstractContextManager[BinaryIO]:
        """A stream whose bytes become ``name`` when the block exits cleanly, and nothing
        otherwise. Without ``replace`` an existing ``name`` raises :class:`FileExistsError`."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove ``name``; :class:`FileNotFoundError` if it is not there."""

    @abstractmethod
    def names(self, folder: str, suffix: str) -> list[str]:
        """Published names in ``folder`` ending in ``suffix``, sorted (temporaries excluded)."""

    def describe(self) -> str:
        return repr(self)


# -- local directory ---------------------------------------------------------------------------


class _LocalReader(Reader):
    concurrent = True

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size

    def read_at(self, view: memoryview, offset: int) -> int:
        # preadv copies from the page cache straight into the caller's buffer, without the GIL.
        return os.preadv(self.fd, [view], offset)


class LocalBackend(Backend):
    """A directory. Publishing is ``rename`` (or ``link``, which refuses to replace), after an
    fsync of the file, then of the directory: durable and atomic on POSIX filesystems."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    @contextlib.contextmanager
    def reader(self, name: str) -> Iterator[Reader]:
        fd = os.open(self.path(name), os.O_RDONLY)
        try:
            yield _LocalReader(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def writer(self, name: str, *, replace: bool = False) -> Iterator[BinaryIO]:
        final = self.path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        if not replace and final.exists():
            raise FileExistsError(str(final))
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as sink:
                yield sink
                sink.flush()
                os.fsync(sink.fileno())
            if replace:
                Path(tmp).replace(final)
            else:
                os.link(tmp, final)  # fails if another writer published first
                Path(tmp).unlink()
            fsync_dir(final.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        self.path(name).unlink()
        fsync_dir(self.path(name).parent)

    def names(self, folder: str, suffix: str) -> list[str]:
        base = self.path(folder)
        if not base.is_dir():
            return []
        return sorted(
            f"{folder}/{p.name}"
            for p in base.iterdir()
            if p.name.endswith(suffix) and p.name[0] != "."
        )

    def describe(self) -> str:
        return str(self.root)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename or link in ``directory`` durable (the entry is on disk only after this)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- fsspec ----------------------------------------------------------------------------------


class _FsspecReader(Reader):
    def __init__(self, handle: Any, size: int) -> None:
        self.handle = handle
        self.size = size
        self._lock = threading.Lock()

    def read_at(self, view: memoryview, offset: int) -> int:
        with self._lock:
            self.handle.seek(offset)
            data = self.handle.read(len(view))
        view[: len(data)] = data
        return len(data)


class FsspecBackend(Backend):
    """Any fsspec filesystem (``s3://bucket/prefix``, ``gcs://…``, ``sftp://…``, ``memory://…``).

    Files are written under a temporary name and moved into place. Object stores have no
    rename that refuses to replace, so ``replace=False`` is a check before the move: two
    writers racing on one name on such a store are not both refused. The store never races
    on one name by itself (object ids are unique per write and their data keys are claimed
    exclusively first), so this matters only for writers outside it.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        from fsspec.core import url_to_fs

        self.url = url
        self.fs, self.base = url_to_fs(url, **storage_options)
        self.base = self.base.rstrip("/")

    def _full(self, name: str) -> str:
        return f"{self.base}/{name}"

    @contextlib.contextmanager
    def reader(self, name: str) -> Iterator[Reader]:
        full = self._full(name)
        try:
            size = int(self.fs.size(full))
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise FileNotFoundError(full) from exc
        with self.fs.open(full, "rb") as handle:
            yield _FsspecReader(handle, size)

    @contextlib.contextmanager
    def writer(self, name: str, *, replace: bool = False) -> Iterator[BinaryIO]:
        final = self._full(name)
        if not replace and self.fs.exists(final):
            raise FileExistsError(final)
        folder, _, leaf = final.rpartition("/")
        tmp = f"{folder}/.{leaf}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
        self.fs.makedirs(folder, exist_ok=True)
        try:
            with self.fs.open(tmp, "wb") as sink:
                yield sink
            if not replace and self.fs.exists(final):
                raise FileExistsError(final)
            self.fs.mv(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm(tmp)
            raise

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self._full(name)))

    def delete(self, name: str) -> None:
        full = self._full(name)
        if not self.fs.exists(full):
            raise FileNotFoundError(full)
        self.fs.rm(full)

    def names(self, folder: str, suffix: str) -> list[str]:
        base = self._full(folder)
        if not self.fs.exists(base):
            return []
        found = []
        for entry in self.fs.ls(base, detail=False):
            leaf = str(entry).rstrip("/").rpartition("/")[2]
            if leaf.endswith(suffix) and not leaf.startswith("."):
                found.append(f"{folder}/{leaf}")
        return sorted(found)

    def describe(self) -> str:
        # A URL may carry credentials (user:secret@host); never show them.
        parts = urlsplit(self.url)
        if parts.password is None and parts.username is None:
            return self.url
        host = parts.hostname or ""
        return urlunsplit(parts._replace(netloc=f"***@{host}"))


def backend_for(location: str | os.PathLike[str] | Backend) -> Backend:
    """A backend from a path, a ``file://`` URL, or any other fsspec URL."""
    if isinstance(location, Backend):
        return location
    text = os.fspath(location)
    if "://" not in text:
        return LocalBackend(text)
    if text.startswith("file://"):
        return LocalBackend(text.removeprefix("file://"))
    return FsspecBackend(text)
