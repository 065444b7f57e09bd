"""Sealed stage outputs: the model (always) and the datasets (``governance.seal_datasets``).

A sealed output is a sealed file (governance/sealed.py) at the path dvc.yaml names, so DVC's
cache and remotes carry only ciphertext; its data key stays in the project's keyring
(``governance.keyring``), created on first use. Readers tell a sealed input from a plain one
by its trailer and unseal it into memory: no stage writes plaintext of a sealed output.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import uuid
from pathlib import Path

from automl.config import Params
from automl.stages._atomic import AtomicOutputs
from governance.context import Governance, open_governance
from governance.exceptions import GovernanceError, IntegrityError, KeyUnavailableError
from governance.keys import LocalKeyring
from governance.sealed import ObjectInfo, SealedFiles, is_sealed

log = logging.getLogger(__name__)

PRODUCTION_NOTE = (
    "The keyring keeps its key-encryption keys on this machine (files 0600): that protects "
    "the copies in DVC remotes and backups, not this machine. In production, put the keys in "
    "an external KMS or HSM behind governance.keys.KeyProvider."
)


_sessions: dict[tuple[str, str, str | None], Governance] = {}


def governance_session(params: Params) -> Governance:
    """The stage's governed session (policy, audit log), one per process; its keyring is
    created (with a loud note) the first time it is needed, and it signs an audit checkpoint
    when the process ends."""
    settings = params.governance
    key = (settings.keyring, settings.audit, settings.policy)
    if key not in _sessions:
        session = open_governance(
            keyring=settings.keyring, audit=settings.audit, policy=settings.policy
        )
        if not session.keyring.exists():
            session.init_keys()
            log.warning("created the keyring %s. %s", session.keyring.root, PRODUCTION_NOTE)
        if not _sessions:
            atexit.register(_close_sessions)
        _sessions[key] = session
    return _sessions[key]


def _close_sessions() -> None:
    while _sessions:
        _, session = _sessions.popitem()
        with contextlib.suppress(GovernanceError):
            session.close()


def keyring(params: Params) -> LocalKeyring:
    return governance_session(params).keyring


def sealed_files(params: Params) -> SealedFiles:
    return governance_session(params).files()


def seal_output(
    out: AtomicOutputs, target: str | os.PathLike[str], data: bytes, *, params: Params, kind: str
) -> ObjectInfo:
    """Seal ``data`` as the output ``target``, published with the stage's other outputs.

    Every seal is a new object with a key of its own (``<kind>-<random>``): shredding one
    run's model or data leaves the others readable.
    """
    object_id = f"{kind}-{uuid.uuid4().hex}"
    return sealed_files(params).write(
        out.path_for(target), data, object_id=object_id, name=Path(target).as_posix()
    )


def read_input(
    path: str | os.PathLike[str], *, made_by: str, params: Params, require_sealed: bool
) -> bytes:
    """A stage input's bytes, unsealed in memory if it is sealed. With ``require_sealed`` a
    plain file is refused: swapping a sealed input for a plain one must not slip past."""
    file = Path(path)
    if not is_sealed(file):
        if require_sealed:
            raise IntegrityError(
                f"{file} is not sealed, but the {made_by!r} stage seals it: it was replaced "
                f"by a plain file. Restore it with `dvc checkout {file.as_posix()}` or rebuild "
                f"it with `dvc repro --force {made_by}`."
            )
        return file.read_bytes()
    try:
        return sealed_files(params).read(file)
    except IntegrityError as exc:
        raise IntegrityError(
            f"{exc}. It was altered or damaged after the {made_by!r} stage sealed it: restore it "
            f"with `dvc checkout {file.as_posix()}` or rebuild it with `dvc repro --force "
            f"{made_by}`."
        ) from None
    except KeyUnavailableError as exc:
        raise KeyUnavailableError(
            f"{file}: {exc}. The file was sealed with another keyring, or its key was "
            "shredded; point governance.keyring at the keyring that sealed it, or rebuild it "
            f"with `dvc repro --force {made_by}`."
        ) from None
    except GovernanceError as exc:
        raise type(exc)(f"{file}: {exc}") from None


def route_tracking_artifacts(params: Params) -> None:
    """Send MLflow artifacts on ``governed:`` locations to this project's store and keyring
    (the artifact repository plugin reads these variables, in this process and its children)."""
    if not params.governance.seal_tracking_artifacts:
        return
    keyring(params)
    store = params.governance.store
    if "://" not in store:
        store = str(Path(store).resolve())
    os.environ["GOVERNANCE_STORE"] = store
    os.environ["GOVERNANCE_KEYRING"] = str(Path(params.governance.keyring).resolve())
    audit = params.governance.audit
    os.environ["GOVERNANCE_AUDIT"] = audit if "://" in audit else str(Path(audit).resolve())
    if params.governance.policy:
        os.environ["GOVERNANCE_POLICY"] = str(Path(params.governance.policy).resolve())
