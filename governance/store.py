"""The sealed artifact store: put, get (in memory or streaming), list, stat, verify, delete.

Each object is sealed under its own data key (from a :class:`~governance.keys.KeyProvider`) in
the format of docs/sealed-format.md, with the object's identity as associated data. A sidecar
JSON records what auditors ask for: plaintext size and SHA-256, key id and version, who stored
it and when. Plaintext is never written to disk by the store.

Writes are atomic: the ciphertext and then its record are renamed into place, and an object
exists only once its record does, so a crash mid-put leaves no half object visible.

Every operation is reported to the store's listeners (who, what, which object, outcome): the
seam the audit log plugs into.
"""

from __future__ import annotations

import builtins
import contextlib
import getpass
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from governance.crypto import SegmentedAead, SegmentedAeadParams
from governance.exceptions import GovernanceError, IntegrityError, KeyUnavailableError
from governance.keys import KeyProvider

FORMAT = "governed:v1"


@dataclass(frozen=True)
class ObjectInfo:
    object_id: str
    size: int
    sha256: str
    kek_id: str
    kek_version: int
    segment_size: int
    created_by: str
    created_at: float
    format: str = FORMAT
    name: str = ""  # a logical path, for stores that hold named files (MLflow artifacts)


@dataclass(frozen=True)
class Operation:
    """One store or key operation, as the audit log will record it (no secrets in it)."""

    actor: str
    action: str
    resource: str
    outcome: str
    detail: str = ""


class OperationListener(Protocol):
    def __call__(self, operation: Operation) -> None: ...


class ObjectNotFoundError(GovernanceError):
    """No object with that id is in the store."""

    exit_code = 3


def associated_data(object_id: str) -> bytes:
    """What binds a ciphertext to its object: sealed as one object, it opens as no other."""
    return f"{FORMAT}:{object_id}".encode()


class SealedStore:
    """A directory of sealed objects."""

    def __init__(
        self,
        root: str | Path,
        keys: KeyProvider,
        *,
        actor: str | None = None,
        listeners: Sequence[OperationListener] = (),
        params: SegmentedAeadParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.keys = keys
        self.actor = actor or getpass.getuser()
        self.listeners = list(listeners)
        self.params = params or SegmentedAeadParams()
        self.clock = clock

    # -- paths and reporting ---------------------------------------------------------------

    def _sealed(self, object_id: str) -> Path:
        return self.root / "objects" / f"{object_id}.sealed"

    def _record(self, object_id: str) -> Path:
        return self.root / "objects" / f"{object_id}.json"

    def _report(self, action: str, object_id: str, outcome: str, detail: str = "") -> None:
        operation = Operation(self.actor, action, object_id, outcome, detail)
        for listener in self.listeners:
            listener(operation)

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        object_id: str,
        data: bytes | BinaryIO | str | os.PathLike[str],
        *,
        name: str = "",
    ) -> ObjectInfo:
        """Seal ``data`` (bytes, a binary stream, or a file path) as ``object_id``."""
        if self._record(object_id).exists():
            self._report("put", object_id, "refused", "exists")
            raise GovernanceError(f"object {object_id!r} exists; delete it first or use a new id")
        key, ref = self.keys.new_data_key(object_id)
        folder = self.root / "objects"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=f".{object_id}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as sink, _readable(data) as source:
                size = SegmentedAead(key, self.params).encrypt_stream(
                    source, sink, associated_data(object_id), on_plaintext=digest.update
                )
                sink.flush()
                os.fsync(sink.fileno())
            info = ObjectInfo(
                object_id=object_id, size=size, sha256=digest.hexdigest(), kek_id=ref.kek_id,
                kek_version=ref.version, segment_size=self.params.segment_size,
                created_by=self.actor, created_at=self.clock(), name=name,
            )  # fmt: skip
            Path(tmp).replace(self._sealed(object_id))
            _write_json(self._record(object_id), asdict(info))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            self._report("put", object_id, "error")
            raise
        self._report("put", object_id, "ok", f"{size} bytes")
        return info

    def delete(self, object_id: str) -> None:
        """Remove the object's ciphertext and record (its key stays: see ``shred``)."""
        self.stat(object_id)
        self._record(object_id).unlink()
        self._sealed(object_id).unlink(missing_ok=True)
        self._report("delete", object_id, "ok")

    # -- reading ---------------------------------------------------------------------------

    def stat(self, object_id: str) -> ObjectInfo:
        path = self._record(object_id)
        if not path.is_file():
            raise ObjectNotFoundError(f"no object {object_id!r} in {self.root}")
        return ObjectInfo(**json.loads(path.read_text()))

    def list(self) -> builtins.list[ObjectInfo]:
        folder = self.root / "objects"
        if not folder.is_dir():
            return []
        return [self.stat(p.stem) for p in sorted(folder.glob("*.json"))]

    def open(self, object_id: str) -> Iterator[memoryview]:
        """Stream the plaintext segment by segment; raises :class:`IntegrityError` at the first
        bad segment or at a cut-off end (then discard what was read).

        Each segment is a read-only view into a reused buffer, valid until the next is asked
        for: copy it to keep it. No copy is made that the caller does not ask for.
        """
        info = self.stat(object_id)
        try:
            key, _ = self.keys.data_key(object_id)
        except KeyUnavailableError as exc:
            self._report("get", object_id, "denied", str(exc))
            raise
        aead = SegmentedAead(key, SegmentedAeadParams(segment_size=info.segment_size))
        try:
            # Unbuffered: the kernel copies straight into the segment buffer, once.
            with self._sealed(object_id).open("rb", buffering=0) as source:
                yield from aead.open_segments(
                    source,
                    associated_data(object_id),
                    label=f"object {object_id!r}",
                )
        except (IntegrityError, FileNotFoundError) as exc:
            self._report("get", object_id, "corrupt", str(exc))
            if isinstance(exc, FileNotFoundError):
                raise IntegrityError(f"object {object_id!r}: its ciphertext is missing") from None
            raise
        self._report("get", object_id, "ok")

    def get(self, object_id: str) -> bytes:
        """The whole plaintext, in memory, returned only after every segment verified."""
        whole = bytearray()
        for segment in self.open(object_id):
            whole += segment
        return bytes(whole)

    def verify(self, object_id: str | None = None) -> dict[str, str]:
        """``{object id: status}``: ``ok``, ``shredded`` or ``corrupt: <why>``."""
        ids = [object_id] if object_id is not None else [i.object_id for i in self.list()]
        results: dict[str, str] = {}
        for oid in ids:
            info = self.stat(oid)
            if self.keys.is_shredded(oid):
                results[oid] = "shredded"
                continue
            digest, size = hashlib.sha256(), 0
            try:
                for segment in self.open(oid):
                    digest.update(segment)
                    size += len(segment)
            except (IntegrityError, KeyUnavailableError) as exc:
                results[oid] = f"corrupt: {exc}"
            else:
                ok = digest.hexdigest() == info.sha256 and size == info.size
                results[oid] = "ok" if ok else "corrupt: the record's size or hash does not match"
            self._report("verify", oid, results[oid].split(":")[0])
        return results


@contextlib.contextmanager
def _readable(data: bytes | BinaryIO | str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Bytes, a path or an open binary stream, as a readable binary stream."""
    if isinstance(data, bytes | bytearray | memoryview):
        yield io.BytesIO(data)
    elif isinstance(data, str | os.PathLike):
        with Path(data).open("rb") as fh:
            yield fh
    else:
        yield data


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
