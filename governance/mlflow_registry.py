"""MLflow's model registry behind :class:`governance.models.ModelRegistry`.

Aliases and tags are MLflow's; the history of who moved them, and why, is the audit log's
(governance/models.py writes it before calling in here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from governance.exceptions import GovernanceError
from governance.models import RegisteredVersion

T = TypeVar("T")


class MlflowRegistry:
    def __init__(self, tracking_uri: str) -> None:
        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except MlflowException as exc:
            raise GovernanceError(
                f"the MLflow registry at {_shown(self.uri)} refused to {what}: "
                f"{str(exc).splitlines()[0]}"
            ) from None

    def _found(self, call: Callable[[], T]) -> T | None:
        """``call``'s answer, or None when the registry holds no such model, version or alias."""
        try:
            return call()
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise GovernanceError(
                f"the MLflow registry at {_shown(self.uri)} could not be read: "
                f"{str(exc).splitlines()[0]}"
            ) from None

    def version(self, name: str, version: str) -> RegisteredVersion | None:
        found: Any = self._found(lambda: self.client.get_model_version(name, version))
        if found is None:
            return None
        return RegisteredVersion(
            name=name,
            version=str(found.version),
            tags=dict(found.tags or {}),
            aliases=tuple(found.aliases or ()),
            run_id=found.run_id,
            created_at=found.creation_timestamp / 1000 if found.creation_timestamp else None,
        )

    def alias(self, name: str, alias: str) -> str | None:
        found: Any = self._found(lambda: self.client.get_model_version_by_alias(name, alias))
        return None if found is None else str(found.version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(
            f"point {alias!r} at {name} version {version}",
            lambda: self.client.set_registered_model_alias(name, alias, version),
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._call(
            f"remove {alias!r} of {name}",
            lambda: self.client.delete_registered_model_alias(name, alias),
        )

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._call(
                f"tag {name} version {version}",
                lambda k=key, v=value: self.client.set_model_version_tag(name, version, k, v),  # type: ignore[misc]
            )


def _shown(uri: str) -> str:
    """The URI without credentials."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password or parts.username:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return uri
