"""The sealed file, and the one place that writes and opens it.

    sealed file = ciphertext || record || uint32_be(len(record)) || "GOVSEAL1"

- ``ciphertext`` is Tink's streaming AEAD (docs/sealed-format.md) under the object's own data
  key, with ``governed:v1:<object id>`` as associated data;
- ``record`` is UTF-8 JSON: what auditors ask about the object (:class:`ObjectInfo`: plaintext
  size and SHA-256, key id and version, who sealed it and when) and a MAC of those fields under
  the data key, so an edited record is caught like edited ciphertext.

The record trails the ciphertext because the hash is known only once the data has streamed
through; writing needs no seek, so any filesystem (or object store) can hold sealed files. One
file per object means an object appears whole, with its record, by one atomic publish.

:class:`Sealer` writes and opens sealed files on any :class:`~governance.backends.Backend`
and reports every operation (who, what, which object, outcome) to its listeners: the seam the
audit log plugs into. :class:`~governance.store.SealedStore` and :class:`SealedFiles` are the
recipes over it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import BinaryIO, Protocol

from governance.backends import Backend, LocalBackend, Reader
from governance.crypto import SegmentedAead, SegmentedAeadParams, record_mac, record_mac_ok
from governance.exceptions import (
    AccessDeniedError,
    AuditError,
    GovernanceError,
    IntegrityError,
    KeyUnavailableError,
)
from governance.keys import KeyProvider
from governance.policy import Policy, current_actor

FORMAT = "governed:v1"
MAGIC = b"GOVSEAL1"
_TRAILER = struct.Struct(">I8s")
_MAX_RECORD = 1 << 16


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
    name: str = ""  # a logical path, for objects that stand for named files (MLflow artifacts)


Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Operation:
    """One store or key operation, as the audit log records it (no secrets in it)."""

    actor: str
    action: str
    resource: str
    outcome: str
    details: Mapping[str, Scalar] = field(default_factory=dict)


class OperationListener(Protocol):
    def __call__(self, operation: Operation) -> None: ...


class ObjectNotFoundError(GovernanceError):
    """No object with that id (or no file at that path)."""

    exit_code = 3


def associated_data(object_id: str) -> bytes:
    """What binds a ciphertext to its object: sealed as one object, it opens as no other."""
    return f"{FORMAT}:{object_id}".encode()


def _canonical(info: ObjectInfo) -> bytes:
    return json.dumps(asdict(info), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Record:
    info: ObjectInfo
    mac: str
    ciphertext_size: int


def _read_record(reader: Reader, label: str) -> _Record:
    if reader.size < _TRAILER.size:
        raise IntegrityError(f"{label} is not a sealed file: it is too short")
    tail = memoryview(bytearray(_TRAILER.size))
    reader.read_at(tail, reader.size - _TRAILER.size)
    length, magic = _TRAILER.unpack(tail)
    if magic != MAGIC:
        raise IntegrityError(f"{label} is not a sealed file: its trailer is missing or damaged")
    start = reader.size - _TRAILER.size - length
    if length > _MAX_RECORD or start < 0:
        raise IntegrityError(f"the record of {label} is damaged (impossible length)")
    raw = memoryview(bytearray(length))
    reader.read_at(raw, start)
    try:
        payload = json.loads(bytes(raw))
        mac = payload.pop("mac")
        known = {f.name for f in fields(ObjectInfo)}
        info = ObjectInfo(**{k: v for k, v in payload.items() if k in known})
    except (ValueError, TypeError, KeyError, AttributeError):
        raise IntegrityError(f"the record of {label} is damaged (not the expected JSON)") from None
    if not isinstance(mac, str) or not isinstance(info.segment_size, int):
        raise IntegrityError(f"the record of {label} is damaged (wrong field types)")
    return _Record(info, mac, start)


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


class Sealer:
    """Writes and opens sealed files on a backend; every operation is reported."""

    def __init__(
        self,
        keys: KeyProvider,
        *,
        actor: str | None = None,
        listeners: Sequence[OperationListener] = (),
        params: SegmentedAeadParams | None = None,
        clock: Callable[[], float] = time.time,
        workers: int = 2,
        policy: Policy | None = None,
    ) -> None:
        self.keys = keys
        self.actor = actor or current_actor()
        self.policy = policy or Policy.allow_all()
        self.listeners = list(listeners)
        self.params = params or SegmentedAeadParams()
        self.clock = clock
        self.workers = workers

    def report(
        self,
        action: str,
        resource: str,
        outcome: str,
        details: Mapping[str, Scalar] | None = None,
    ) -> None:
        """Tell every listener; a listener that raises (an audit log that cannot write) stops
        the operation, which is why this runs before an operation takes effect."""
        operation = Operation(self.actor, action, resource, outcome, dict(details or {}))
        for listener in self.listeners:
            listener(operation)

    def report_failure(
        self, action: str, resource: str, outcome: str, details: Mapping[str, Scalar] | None = None
    ) -> None:
        """Report an operation that is failing anyway: if even the audit entry cannot be
        written, the original error is the one worth raising, so that one wins."""
        with contextlib.suppress(AuditError):
            self.report(action, resource, outcome, details)

    def require(self, permission: str, action: str, resource: str) -> None:
        """Ask the policy; a denial is reported (audited) and raised."""
        decision = self.policy.decide(self.actor, permission, resource)
        if not decision.allowed:
            self.report_failure(action, resource, "denied", {"permission": permission})
            raise AccessDeniedError(f"access denied: {decision.reason}")

    def write(
        self,
        backend: Backend,
        file: str,
        object_id: str,
        data: bytes | BinaryIO | str | os.PathLike[str],
        *,
        name: str = "",
        replace_file: bool = False,
        replace_key: bool = False,
    ) -> ObjectInfo:
        """Seal ``data`` as ``object_id`` into ``file`` of ``backend``, all or nothing. The
        audit entry is written before the object is published: if it cannot be, nothing is.

        ``replace_key`` gives an existing object id a new data key (copies sealed under the
        old one become unreadable); without it an id that has or had a key is refused.
        """
        self.require("artifact.write", "put", object_id)
        try:
            key, ref = self.keys.new_data_key(object_id, replace=replace_key)
        except GovernanceError as exc:
            self.report_failure("put", object_id, "refused", {"error": type(exc).__name__})
            raise
        digest = hashlib.sha256()
        try:
            with backend.writer(file, replace=replace_file) as sink, _readable(data) as source:
                size = SegmentedAead(key, self.params).encrypt_stream(
                    source, sink, associated_data(object_id), on_plaintext=digest.update
                )
                info = ObjectInfo(
                    object_id=object_id, size=size, sha256=digest.hexdigest(),
                    kek_id=ref.kek_id, kek_version=ref.version,
                    segment_size=self.params.segment_size, created_by=self.actor,
                    created_at=self.clock(), name=name,
                )  # fmt: skip
                mac = record_mac(key, object_id, _canonical(info))
                record = json.dumps(asdict(info) | {"mac": mac}).encode()
                sink.write(record + _TRAILER.pack(len(record), MAGIC))
                self.report(
                    "put", object_id, "ok",
                    {"bytes": size, "sha256": info.sha256, "name": name,
                     "kek": f"{ref.kek_id} v{ref.version}"},
                )  # fmt: skip
        except FileExistsError:
            self.report_failure("put", object_id, "refused", {"error": "exists"})
            raise GovernanceError(
                f"object {object_id!r} exists; delete it first or use a new id"
            ) from None
        except AuditError:
            raise
        except BaseException as exc:
            self.report_failure("put", object_id, "error", {"error": type(exc).__name__})
            raise
        return info

    def stat(self, backend: Backend, file: str, *, label: str) -> ObjectInfo:
        """The record, unauthenticated (``verify`` authenticates it); no key needed."""
        try:
            with backend.reader(file) as reader:
                return _read_record(reader, label).info
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{label} not found in {backend.describe()}") from None

    def open(
        self, backend: Backend, file: str, *, label: str, expect_id: str | None = None
    ) -> Iterator[memoryview]:
        """Stream the plaintext segment by segment, each once verified; raises
        :class:`IntegrityError` at the first bad segment, or at the end for a cut-off or
        resized object (then discard what was read). The read is allowed by the policy and
        audited before any plaintext is released.

        Each segment is a read-only view into a reused buffer, valid until the next is asked
        for: copy it to keep it.
        """
        return self._open(backend, file, label=label, expect_id=expect_id, action="get")

    def _open(
        self, backend: Backend, file: str, *, label: str, expect_id: str | None, action: str
    ) -> Iterator[memoryview]:
        audited = action == "get"
        resource = expect_id or label
        try:
            with backend.reader(file) as reader:
                record = _read_record(reader, label)
                object_id = expect_id or record.info.object_id
                resource = object_id
                if audited:
                    self.require("artifact.read", "get", object_id)
                if record.info.object_id != object_id:
                    raise IntegrityError(
                        f"{label} holds object {record.info.object_id!r}, not {object_id!r}: "
                        "it was swapped for another object's file"
                    )
                try:
                    key, _ = self.keys.data_key(object_id)
                except KeyUnavailableError as exc:
                    if audited:
                        details = {"error": type(exc).__name__}
                        self.report_failure("get", object_id, "denied", details)
                    raise
                if not record_mac_ok(key, object_id, _canonical(record.info), record.mac):
                    raise IntegrityError(
                        f"the record of {label} failed authentication: it was edited, or "
                        "belongs to another object"
                    )
                if audited:
                    self.report("get", object_id, "ok", {"bytes": record.info.size})
                aead = SegmentedAead(
                    key, SegmentedAeadParams(segment_size=record.info.segment_size)
                )
                total = 0
                for segment in aead.open_at(
                    reader.read_at,
                    record.ciphertext_size,
                    associated_data(object_id),
                    label=label,
                    workers=self.workers if reader.concurrent else 1,
                ):
                    total += len(segment)
                    yield segment
                if total != record.info.size:
                    raise IntegrityError(f"{label} opened to {total} bytes, not {record.info.size}")
        except FileNotFoundError:
            if audited:
                self.report_failure("get", resource, "missing")
            raise ObjectNotFoundError(f"{label} not found in {backend.describe()}") from None
        except IntegrityError:
            if audited:
                self.report_failure("get", resource, "corrupt")
            raise

    def read(
        self, backend: Backend, file: str, *, label: str, expect_id: str | None = None
    ) -> bytes:
        """The whole plaintext, in memory, returned only after every segment verified."""
        whole = bytearray()
        for segment in self.open(backend, file, label=label, expect_id=expect_id):
            whole += segment
        return bytes(whole)

    def verify(
        self, backend: Backend, file: str, *, label: str, expect_id: str | None = None
    ) -> str:
        """``ok``, ``shredded``, ``key-missing: <why>`` (no key here to open it with) or
        ``corrupt: <why>``, after reading the whole object and checking its recorded size and
        SHA-256. Needs ``artifact.verify``, not ``artifact.read``: nothing is released."""
        self.require("artifact.verify", "verify", expect_id or label)
        try:
            info = self.stat(backend, file, label=label)
        except IntegrityError as exc:
            self.report("verify", expect_id or label, "corrupt")
            return f"corrupt: {exc}"
        object_id = expect_id or info.object_id
        if self.keys.is_shredded(object_id):
            status = "shredded"
        else:
            digest, size = hashlib.sha256(), 0
            try:
                for segment in self._open(
                    backend, file, label=label, expect_id=expect_id, action="verify"
                ):
                    digest.update(segment)
                    size += len(segment)
            except IntegrityError as exc:
                status = f"corrupt: {exc}"
            except KeyUnavailableError as exc:
                status = f"key-missing: {exc}"
            else:
                ok = digest.hexdigest() == info.sha256 and size == info.size
                status = "ok" if ok else "corrupt: the record's size or hash does not match"
        self.report("verify", object_id, status.split(":")[0])
        return status


class SealedFiles:
    """Sealed files at paths of one's choosing (pipeline outputs tracked by DVC).

    Each file carries its object id in its record; the data key stays with the key provider,
    so the DVC cache and remotes hold only ciphertext, and shredding the key erases every
    copy. Opening checks the file's record against its key, so an edited record fails.
    """

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    @staticmethod
    def _where(path: str | os.PathLike[str]) -> tuple[LocalBackend, str, str]:
        file = Path(path)
        return LocalBackend(file.parent), file.name, str(file)

    def write(
        self, path: str | os.PathLike[str], data: bytes | BinaryIO | str | os.PathLike[str],
        *, object_id: str, name: str = "",
    ) -> ObjectInfo:  # fmt: skip
        """Seal ``data`` to ``path`` (replacing what is there, atomically)."""
        backend, file, _ = self._where(path)
        return self.sealer.write(backend, file, object_id, data, name=name, replace_file=True)

    def stat(self, path: str | os.PathLike[str]) -> ObjectInfo:
        backend, file, label = self._where(path)
        return self.sealer.stat(backend, file, label=label)

    def open(self, path: str | os.PathLike[str]) -> Iterator[memoryview]:
        backend, file, label = self._where(path)
        return self.sealer.open(backend, file, label=label)

    def read(self, path: str | os.PathLike[str]) -> bytes:
        backend, file, label = self._where(path)
        return self.sealer.read(backend, file, label=label)

    def verify(self, path: str | os.PathLike[str]) -> str:
        backend, file, label = self._where(path)
        return self.sealer.verify(backend, file, label=label)


def is_sealed(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` ends like a sealed file (a cheap check, not a verify)."""
    try:
        with Path(path).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() < _TRAILER.size:
                return False
            fh.seek(-len(MAGIC), os.SEEK_END)
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False
