"""The sealed artifact store: put, get (in memory or streaming), list, stat, verify, delete.

Each object is one sealed file (governance/sealed.py) named by its id, on a local directory
(the default) or any fsspec filesystem by URL (``s3://bucket/prefix``, ...). It is sealed under
its own data key from a :class:`~governance.keys.KeyProvider`; plaintext is never written to
disk by the store. A put publishes the whole file with one atomic step, so a crash mid-put
leaves no half object visible (at most a hidden temporary, which ``list`` ignores).

Every operation is reported to the listeners (who, what, which object, outcome): the seam
the audit log plugs into.
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from governance.backends import Backend, backend_for
from governance.crypto import SegmentedAeadParams
from governance.exceptions import GovernanceError, IntegrityError
from governance.keys import KeyProvider, valid_object_id
from governance.policy import Policy
from governance.sealed import (
    FORMAT,
    ObjectInfo,
    ObjectNotFoundError,
    Operation,
    OperationListener,
    Sealer,
    associated_data,
)

__all__ = [
    "FORMAT",
    "ObjectInfo",
    "ObjectNotFoundError",
    "Operation",
    "OperationListener",
    "SealedStore",
    "associated_data",
]

_SUFFIX = ".sealed"


class SealedStore:
    """Sealed objects by id, on a backend."""

    def __init__(
        self,
        location: str | os.PathLike[str] | Backend,
        keys: KeyProvider,
        *,
        actor: str | None = None,
        listeners: Sequence[OperationListener] = (),
        params: SegmentedAeadParams | None = None,
        clock: Callable[[], float] = time.time,
        workers: int = 2,
        policy: Policy | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """``sealer`` (a governed session's) replaces the keyword settings that build one."""
        self.backend = backend_for(location)
        self.sealer = sealer or Sealer(
            keys, actor=actor, listeners=listeners, params=params, clock=clock,
            workers=workers, policy=policy,
        )  # fmt: skip

    @property
    def listeners(self) -> builtins.list[OperationListener]:
        return self.sealer.listeners

    @property
    def keys(self) -> KeyProvider:
        return self.sealer.keys

    @property
    def root(self) -> Path:
        """The directory of a local store (for messages and tests)."""
        return Path(self.backend.describe())

    @staticmethod
    def _file(object_id: str) -> str:
        valid_object_id(object_id)
        return f"objects/{object_id}{_SUFFIX}"

    @staticmethod
    def _label(object_id: str) -> str:
        return f"object {object_id!r}"

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        object_id: str,
        data: bytes | BinaryIO | str | os.PathLike[str],
        *,
        name: str = "",
        replace: bool = False,
    ) -> ObjectInfo:
        """Seal ``data`` (bytes, a binary stream, or a file path) as ``object_id``.

        An id is used once; ``replace`` overwrites an object under a new data key (what it
        held before, in every copy, becomes unreadable)."""
        if not replace and self.backend.exists(self._file(object_id)):
            self.sealer.report("put", object_id, "refused", {"error": "exists"})
            raise GovernanceError(f"object {object_id!r} exists; delete it first or use a new id")
        return self.sealer.write(
            self.backend, self._file(object_id), object_id, data, name=name,
            replace_file=replace, replace_key=replace,
        )  # fmt: skip

    def delete(self, object_id: str) -> None:
        """Remove the object's ciphertext (its key stays for other copies: see ``shred``)."""
        self.sealer.require("artifact.delete", "delete", object_id)
        if not self.backend.exists(self._file(object_id)):
            raise ObjectNotFoundError(f"no object {object_id!r} in {self.backend.describe()}")
        self.sealer.report("delete", object_id, "ok")  # audited first: fail closed
        try:
            self.backend.delete(self._file(object_id))
        except FileNotFoundError:
            raise ObjectNotFoundError(
                f"no object {object_id!r} in {self.backend.describe()}"
            ) from None

    # -- reading ---------------------------------------------------------------------------

    def stat(self, object_id: str) -> ObjectInfo:
        """The object's record (authenticated by ``verify`` and by every read)."""
        try:
            info = self.sealer.stat(
                self.backend, self._file(object_id), label=self._label(object_id)
            )
        except ObjectNotFoundError:
            raise ObjectNotFoundError(
                f"no object {object_id!r} in {self.backend.describe()}"
            ) from None
        if info.object_id != object_id:
            raise IntegrityError(
                f"object {object_id!r} holds the record of {info.object_id!r}: it was swapped"
            )
        return info

    def ids(self) -> builtins.list[str]:
        names = self.backend.names("objects", _SUFFIX)
        return sorted(n.rpartition("/")[2].removesuffix(_SUFFIX) for n in names)

    def list(self) -> builtins.list[ObjectInfo]:
        """Every object's record; a damaged one is left out (``verify`` reports it)."""
        found = []
        for object_id in self.ids():
            try:
                found.append(self.stat(object_id))
            except (IntegrityError, ObjectNotFoundError):
                continue
        return found

    def open(self, object_id: str) -> Iterator[memoryview]:
        """Stream the plaintext segment by segment; raises :class:`IntegrityError` at the first
        bad segment or at a cut-off end (then discard what was read).

        Each segment is a read-only view into a reused buffer, valid until the next is asked
        for: copy it to keep it. No copy is made that the caller does not ask for.
        """
        try:
            yield from self.sealer.open(
                self.backend, self._file(object_id), label=self._label(object_id),
                expect_id=object_id,
            )  # fmt: skip
        except ObjectNotFoundError:
            raise ObjectNotFoundError(
                f"no object {object_id!r} in {self.backend.describe()}"
            ) from None

    def get(self, object_id: str) -> bytes:
        """The whole plaintext, in memory, returned only after every segment verified."""
        whole = bytearray()
        for segment in self.open(object_id):
            whole += segment
        return bytes(whole)

    def verify(self, object_id: str | None = None) -> dict[str, str]:
        """``{object id: status}``: ``ok``, ``shredded``, ``key-missing: <why>`` or
        ``corrupt: <why>``."""
        if object_id is not None and not self.backend.exists(self._file(object_id)):
            raise ObjectNotFoundError(f"no object {object_id!r} in {self.backend.describe()}")
        ids = [object_id] if object_id is not None else self.ids()
        return {
            oid: self.sealer.verify(
                self.backend, self._file(oid), label=self._label(oid), expect_id=oid
            )
            for oid in ids
        }
