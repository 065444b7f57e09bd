"""Key providers: key-encryption keys (KEKs) with versions, and the data keys they wrap.

:class:`KeyProvider` is the interface; :class:`LocalKeyring` the default, a directory created
on first use (``governance keys init``), kept out of git, every file mode 0600.

    PRODUCTION NOTE: a keyring on the same disk as the data protects against a copied DVC
    remote, a leaked backup or a stolen artifact store, not against someone who can read this
    machine. In production, put the KEKs in an external KMS or HSM behind the same interface.

Data keys live with the provider, never with the objects: destroying an object's data key
(or the KEK version that wraps it) makes every copy of that object unreadable, wherever the
copies went (crypto-shredding). Rotation re-wraps data keys under a new primary KEK version
without touching the data.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.audit import AuditKeys
from governance.crypto import new_signing_key
from governance.crypto.wrap import new_key, unwrap_key, wrap_key
from governance.exceptions import GovernanceError, KeyUnavailableError

_OBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def valid_object_id(object_id: str) -> str:
    """``object_id`` if it is a valid id (it names files), else a clear error."""
    if not _OBJECT_ID.match(object_id) or ".." in object_id:
        raise GovernanceError(
            f"invalid object id {object_id!r}: use 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return object_id


@dataclass(frozen=True)
class KeyRef:
    """Which KEK version wraps an object's data key."""

    kek_id: str
    version: int


class KeyProvider(ABC):
    """Creates, unwraps, rotates and destroys data keys. Every method may raise
    :class:`KeyUnavailableError`."""

    @abstractmethod
    def new_data_key(self, object_id: str, *, replace: bool = False) -> tuple[bytes, KeyRef]:
        """A fresh data key for ``object_id``, stored wrapped under the primary KEK version.

        Object ids are claimed once: an id that has (or had, before shredding) a key raises
        :class:`~governance.exceptions.GovernanceError` unless ``replace``, which destroys the
        old key (so whatever it sealed is gone) and clears a shredded mark."""

    @abstractmethod
    def data_key(self, object_id: str) -> tuple[bytes, KeyRef]:
        """The data key of ``object_id``, unwrapped (in memory only)."""

    @abstractmethod
    def shred(self, object_id: str) -> None:
        """Destroy the data key of ``object_id``: every copy of the object becomes unreadable."""

    @abstractmethod
    def is_shredded(self, object_id: str) -> bool:
        """Whether ``object_id``'s key was destroyed (as opposed to never existing)."""

    @abstractmethod
    def rotate(self) -> KeyRef:
        """Make a new KEK version primary and re-wrap every data key under it."""


class LocalKeyring(KeyProvider):
    """KEK versions and wrapped data keys in a local directory (mode 0700, files 0600)."""

    def __init__(self, root: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.clock = clock

    # -- set-up ----------------------------------------------------------------------------

    @property
    def _keks_file(self) -> Path:
        return self.root / "keks.json"

    def exists(self) -> bool:
        return self._keks_file.is_file()

    def init(self, kek_id: str = "local-kek") -> KeyRef:
        """Create the keyring with a first KEK version; refuses to overwrite one."""
        if self.exists():
            raise GovernanceError(f"a keyring already exists at {self.root}; it is never replaced")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)
        (self.root / "data-keys").mkdir(mode=0o700, exist_ok=True)
        (self.root / ".gitignore").write_text("*\n")
        record = {"kek_id": kek_id, "primary": 1, "versions": [self._new_version(1)]}
        self._write_private(self._keks_file, record)
        return KeyRef(kek_id, 1)

    def _new_version(self, version: int) -> dict[str, Any]:
        return {
            "version": version,
            "key": base64.b64encode(new_key()).decode(),
            "status": "active",
            "created_at": self.clock(),
        }

    def _load(self) -> dict[str, Any]:
        if not self.exists():
            raise KeyUnavailableError(
                f"no keyring at {self.root}: create one with `governance keys init`"
            )
        record: dict[str, Any] = json.loads(self._keks_file.read_text())
        return record

    def _kek(self, record: dict[str, Any], version: int) -> bytes:
        for entry in record["versions"]:
            if entry["version"] == version:
                if entry["status"] == "shredded":
                    raise KeyUnavailableError(
                        f"KEK {record['kek_id']} v{version} was shredded: what it wrapped is gone"
                    )
                return base64.b64decode(entry["key"])
        raise KeyUnavailableError(f"KEK {record['kek_id']} has no version {version}")

    def versions(self) -> list[dict[str, Any]]:
        """KEK versions without their key material."""
        record = self._load()
        return [
            {k: v for k, v in entry.items() if k != "key"}
            | {"primary": entry["version"] == record["primary"]}
            for entry in record["versions"]
        ]

    # -- data keys -------------------------------------------------------------------------

    def _dek_file(self, object_id: str) -> Path:
        return self.root / "data-keys" / f"{valid_object_id(object_id)}.json"

    def new_data_key(self, object_id: str, *, replace: bool = False) -> tuple[bytes, KeyRef]:
        path = self._dek_file(object_id)
        record = self._load()
        ref = KeyRef(record["kek_id"], record["primary"])
        key = new_key()
        wrapped = wrap_key(
            self._kek(record, ref.version), key, kek_id=ref.kek_id, version=ref.version,
            object_id=object_id,
        )  # fmt: skip
        entry = {
            "kek_id": ref.kek_id,
            "version": ref.version,
            "wrapped": base64.b64encode(wrapped).decode(),
            "created_at": self.clock(),
        }
        if replace:
            self._write_private(path, entry)
            path.with_suffix(".shredded").unlink(missing_ok=True)
            return key, ref
        if self.is_shredded(object_id):
            raise GovernanceError(
                f"object id {object_id!r} was shredded; ids are never reused, choose another"
            )
        try:
            self._write_private(path, entry, exclusive=True)
        except FileExistsError:
            raise GovernanceError(
                f"object id {object_id!r} already has a data key: the object exists, another "
                "write of it is under way, or one was interrupted; choose another id"
            ) from None
        return key, ref

    def data_key(self, object_id: str) -> tuple[bytes, KeyRef]:
        path = self._dek_file(object_id)
        if not path.is_file():
            if self.is_shredded(object_id):
                raise KeyUnavailableError(
                    f"object {object_id!r} was shredded: its key is destroyed"
                )
            raise KeyUnavailableError(f"no data key for object {object_id!r} in {self.root}")
        entry = json.loads(path.read_text())
        ref = KeyRef(entry["kek_id"], entry["version"])
        kek = self._kek(self._load(), ref.version)
        key = unwrap_key(
            kek, base64.b64decode(entry["wrapped"]), kek_id=ref.kek_id, version=ref.version,
            object_id=object_id,
        )  # fmt: skip
        return key, ref

    def shred(self, object_id: str) -> None:
        path = self._dek_file(object_id)
        if path.is_file():
            # Overwrite before unlinking, so the wrapped key is not left in the file's blocks.
            size = path.stat().st_size
            with path.open("r+b") as fh:
                fh.write(os.urandom(size))
                fh.flush()
                os.fsync(fh.fileno())
            path.unlink()
        self._write_private(path.with_suffix(".shredded"), {"shredded_at": self.clock()})

    def is_shredded(self, object_id: str) -> bool:
        return self._dek_file(object_id).with_suffix(".shredded").is_file()

    def rotate(self) -> KeyRef:
        record = self._load()
        new_version = max(v["version"] for v in record["versions"]) + 1
        record["versions"].append(self._new_version(new_version))
        record["primary"] = new_version
        self._write_private(self._keks_file, record)
        for object_id in self.object_ids():
            self._rewrap(object_id, record, new_version)
        return KeyRef(record["kek_id"], new_version)

    def _rewrap(self, object_id: str, record: dict[str, Any], version: int) -> None:
        key, ref = self.data_key(object_id)
        if ref.version == version:
            return
        wrapped = wrap_key(
            self._kek(record, version), key, kek_id=record["kek_id"], version=version,
            object_id=object_id,
        )  # fmt: skip
        entry = json.loads(self._dek_file(object_id).read_text())
        entry |= {"version": version, "wrapped": base64.b64encode(wrapped).decode()}
        self._write_private(self._dek_file(object_id), entry)

    def retire(self, version: int) -> None:
        """Stop a KEK version from being used; it must wrap no data key any more."""
        self._set_status(version, "retired")

    def shred_version(self, version: int) -> None:
        """Destroy a KEK version's key material: the data keys it still wraps are lost."""
        record = self._load()
        if version == record["primary"]:
            raise GovernanceError("the primary KEK version cannot be shredded; rotate first")
        for entry in record["versions"]:
            if entry["version"] == version:
                entry["key"] = ""
                entry["status"] = "shredded"
        self._write_private(self._keks_file, record)

    def _set_status(self, version: int, status: str) -> None:
        record = self._load()
        if version == record["primary"]:
            raise GovernanceError(f"the primary KEK version cannot be {status}; rotate first")
        still = [o for o in self.object_ids() if self._wrapped_version(o) == version]
        if still:
            raise GovernanceError(
                f"KEK v{version} still wraps {len(still)} data keys; run `governance keys "
                "rotate` first"
            )
        for entry in record["versions"]:
            if entry["version"] == version:
                entry["status"] = status
        self._write_private(self._keks_file, record)

    def _wrapped_version(self, object_id: str) -> int:
        return int(json.loads(self._dek_file(object_id).read_text())["version"])

    def object_ids(self) -> Iterator[str]:
        for path in sorted((self.root / "data-keys").glob("*.json")):
            yield path.stem

    # -- the audit log's keys ----------------------------------------------------------------

    def audit_keys(self) -> AuditKeys:
        """The audit log's signing key and keyed-hash key, created with the keyring (or on
        first use for a keyring made before they existed)."""
        return _LocalAuditKeys(self)

    def _audit_record(self) -> dict[str, str]:
        path = self.root / "audit-keys.json"
        if not path.is_file():
            self._load()  # a clear error when there is no keyring at all
            record = {
                "signing_key": base64.b64encode(new_signing_key()).decode(),
                "hash_key": base64.b64encode(new_key()).decode(),
            }
            # Another process may have made them first: then those are used.
            with contextlib.suppress(FileExistsError):
                self._write_private(path, record, exclusive=True)
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded

    # -- files -----------------------------------------------------------------------------

    @staticmethod
    def _write_private(path: Path, payload: dict[str, Any], *, exclusive: bool = False) -> None:
        """Atomic write of a 0600 file (created 0600, never briefly readable by others);
        ``exclusive`` raises :class:`FileExistsError` rather than replace a file."""
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(payload, fh)
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).chmod(0o600)
            if exclusive:
                os.link(tmp, path)  # atomic, and refuses an existing file
                Path(tmp).unlink()
            else:
                Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _LocalAuditKeys(AuditKeys):
    """Read once per process: the audit keys never change once made."""

    def __init__(self, ring: LocalKeyring) -> None:
        self.ring = ring
        self._record: dict[str, str] | None = None

    def _loaded(self) -> dict[str, str]:
        if self._record is None:
            self._record = self.ring._audit_record()
        return self._record

    def signing_key(self) -> bytes:
        return base64.b64decode(self._loaded()["signing_key"])

    def hash_key(self) -> bytes:
        return base64.b64decode(self._loaded()["hash_key"])
