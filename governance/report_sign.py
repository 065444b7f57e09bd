"""A report's files and its detached signature: write them, and check them.

:func:`write_report` writes ``report.json`` (the content), ``report.html`` (the same, for
people, self-contained) and ``report.sig``: an Ed25519 signature, with the audit log's key,
over the SHA-256 of both (docs/compliance-report.md). :func:`verify_report` checks all three;
changing any byte of either file fails it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.backends import LocalBackend
from governance.crypto import key_fingerprint, public_key, sign, signature_ok
from governance.exceptions import IntegrityError

if TYPE_CHECKING:
    from governance.context import Governance

SIGNATURE_FORMAT = "governance-report-signature/1"
FILES = ("report.json", "report.html")
_DOMAIN = b"governed-report:v1|"


def _message(document: Mapping[str, Any]) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return _DOMAIN + json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()


def write_report(
    session: Governance, content: dict[str, Any], folder: str | os.PathLike[str]
) -> dict[str, Any]:
    """report.json, report.html and report.sig into ``folder`` (each written atomically, the
    signature last); the issue is audited with both hashes. Returns the signature document."""
    from governance.report_html import render

    files = {
        "report.json": json.dumps(content, indent=1, ensure_ascii=False, allow_nan=False).encode(),
        "report.html": render(content, folder=Path(folder)).encode(),
    }
    keys = session.keyring.audit_keys()
    signing = keys.signing_key()
    log_id, logged_public = session.audit.log_id()
    public = public_key(signing)
    if base64.b64decode(logged_public) != public:
        raise IntegrityError("the keyring's signing key is not the one that started the audit log")
    document: dict[str, Any] = {
        "format": SIGNATURE_FORMAT,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "subject": content.get("subject"),
        "status": content.get("status", {}).get("overall"),
        "signed_at": content.get("generated_at"),
        "signed_by": session.actor,
        "audit_log_id": log_id,
        "public_key": base64.b64encode(public).decode(),
        "key_fingerprint": key_fingerprint(public),
    }
    document["signature"] = base64.b64encode(sign(signing, _message(document))).decode()
    session.record(
        "report.issue", str(content.get("subject")), "ok",
        {"report.json": document["files"]["report.json"],
         "report.html": document["files"]["report.html"], "status": str(document["status"])},
    )  # fmt: skip
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    backend = LocalBackend(target)
    for name, data in [*files.items(), ("report.sig", _signature_bytes(document))]:
        with backend.writer(name, replace=True) as sink:
            sink.write(data)
    return document


def _signature_bytes(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=1) + "\n").encode()


@dataclass
class ReportCheck:
    ok: bool
    problems: list[str]
    fingerprint: str | None = None
    audit_log_id: str | None = None
    anchored: bool | None = None  # the key is the audit log's (None: the log was not checked)
    status: str | None = None

    def summary(self) -> str:
        if not self.ok:
            return "FAILED: " + "; ".join(self.problems)
        anchor = {
            True: "the signing key is the audit log's",
            False: "the signing key is NOT the audit log's",
            None: "signer not checked against an audit log",
        }[self.anchored]
        return (
            f"ok: report.json and report.html are as signed by {self.fingerprint} "
            f"(audit log {self.audit_log_id}; {anchor}); the report's status is {self.status}"
        )


def verify_report(
    folder: str | os.PathLike[str],
    *,
    expected_public_key: bytes | None = None,
    log_public_key: tuple[str, bytes] | None = None,
) -> ReportCheck:
    """Check report.sig's signature and both files' hashes; with ``expected_public_key`` (or
    ``log_public_key``: an audit log's id and key) also who signed."""
    where = Path(folder)
    try:
        document = json.loads((where / "report.sig").read_text())
        public = base64.b64decode(document["public_key"], validate=True)
        signature = base64.b64decode(document["signature"], validate=True)
        hashes = dict(document["files"])
    except FileNotFoundError:
        return ReportCheck(False, [f"{where / 'report.sig'}: no signature file"])
    except (ValueError, KeyError, TypeError) as exc:
        return ReportCheck(False, [f"{where / 'report.sig'}: malformed ({exc})"])
    problems = []
    if document.get("format") != SIGNATURE_FORMAT:
        problems.append(f"report.sig: unknown format {document.get('format')!r}")
    if not signature_ok(public, _message(document), signature):
        problems.append("report.sig: the signature does not verify (the signature file was edited)")
    for name in FILES:
        file = where / name
        if name not in hashes:
            problems.append(f"report.sig does not cover {name}")
        elif not file.is_file():
            problems.append(f"{file}: missing")
        elif hashlib.sha256(file.read_bytes()).hexdigest() != hashes[name]:
            problems.append(f"{file}: changed after it was signed (its SHA-256 differs)")
    anchored = None
    if expected_public_key is not None:
        anchored = expected_public_key == public
    elif log_public_key is not None and log_public_key[0] == document.get("audit_log_id"):
        anchored = log_public_key[1] == public  # another log says nothing about this signer
    if anchored is False:
        problems.append("report.sig: signed by another key than the expected one")
    return ReportCheck(
        not problems,
        problems,
        key_fingerprint(public),
        document.get("audit_log_id"),
        anchored,
        document.get("status"),
    )
