"""An MLflow artifact repository for ``governed:`` URIs: MLflow's artifacts, sealed.

Registered through the ``mlflow.artifact_repository`` entry point. With an experiment's
artifact location on ``governed:///<prefix>``, everything MLflow logs there (files, models)
is sealed into the store named by ``GOVERNANCE_STORE`` (default ``.store``) under keys from
``GOVERNANCE_KEYRING`` (default ``.keys``); reads unseal it. Every put and get asks the policy
(``GOVERNANCE_POLICY``) and lands in the audit log (``GOVERNANCE_AUDIT``, default
``.audit``). The MLflow server reads them too when it has the plugin installed and access to
the keys.

MLflow's own download API writes artifacts to a local path (that is how ``load_model``
works); the plaintext then lives where MLflow puts it, which is MLflow's temporary folder.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import posixpath
from pathlib import Path
from urllib.parse import urlsplit

from mlflow.entities import FileInfo
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from governance.context import DEFAULT_AUDIT, open_governance
from governance.store import ObjectInfo, SealedStore

SCHEME = "governed"


@functools.cache
def _store(location: str, keyring: str, audit: str, policy: str | None) -> SealedStore:
    """One governed session per configuration and process (MLflow makes many repositories);
    it signs an audit checkpoint when the process ends."""
    session = open_governance(keyring=keyring, audit=audit, policy=policy)
    atexit.register(session.close)
    return session.store(location)


def object_id_for(name: str) -> str:
    """Object ids are fixed-length digests of the artifact's logical path."""
    return "mlf-" + hashlib.sha256(name.encode()).hexdigest()[:40]


class GovernedArtifactRepository(ArtifactRepository):
    """Artifacts under ``governed:///<prefix>`` as sealed objects."""

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        parts = urlsplit(artifact_uri)
        self.prefix = posixpath.join(parts.netloc, parts.path.lstrip("/")).strip("/")
        self.store = _store(
            os.environ.get("GOVERNANCE_STORE", ".store"),
            os.environ.get("GOVERNANCE_KEYRING", ".keys"),
            os.environ.get("GOVERNANCE_AUDIT", DEFAULT_AUDIT),
            os.environ.get("GOVERNANCE_POLICY") or None,
        )

    def _name(self, *parts: str | None) -> str:
        return posixpath.join(self.prefix, *[p.strip("/") for p in parts if p]).strip("/")

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        name = self._name(artifact_path, Path(local_file).name)
        object_id = object_id_for(name)
        # MLflow overwrites an artifact logged twice; the old version's key goes with it.
        self.store.put(object_id, local_file, name=name, replace=True)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        root = Path(local_dir)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                relative = path.parent.relative_to(root).as_posix()
                inner = posixpath.join(artifact_path or "", relative if relative != "." else "")
                self.log_artifact(str(path), inner or None)

    def _objects(self) -> list[ObjectInfo]:
        return [i for i in self.store.list() if i.name.startswith(self.prefix)]

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        base = self._name(path)
        listed: dict[str, FileInfo] = {}
        for info in self._objects():
            if base and not info.name.startswith(base + "/"):
                continue
            rest = info.name[len(base) + 1 :] if base else info.name[len(self.prefix) + 1 :]
            head, _, tail = rest.partition("/")
            relative = posixpath.join(path or "", head).strip("/")
            if tail:
                listed.setdefault(relative, FileInfo(relative, True, None))
            else:
                listed[relative] = FileInfo(relative, False, info.size)
        return [listed[k] for k in sorted(listed)]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        data = self.store.get(object_id_for(self._name(remote_file_path)))
        Path(local_path).write_bytes(data)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        base = self._name(artifact_path)
        for info in self._objects():
            if info.name == base or info.name.startswith(base + "/"):
                self.store.delete(info.object_id)

    def _is_directory(self, artifact_path: str) -> bool:
        base = self._name(artifact_path)
        return any(i.name.startswith(base + "/") for i in self._objects())

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"GovernedArtifactRepository({self.artifact_uri!r})"
