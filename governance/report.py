"""The compliance audit report: one signed document per model version.

:func:`build_report` starts from the model's dossier (the pipeline's evidence, sealed into the
store at registration, its SHA-256 in the ``model.register`` audit entry) and adds what only
governance can say, checked now: whether the audit log verifies, a fresh signed checkpoint,
every sealed artifact's key status, the access history of the model, approvals, alias moves,
key rotations and shredded objects, and whether the registry still agrees with the log.
Problems are not hidden: a broken audit chain, a dossier or model that differs from what was
registered, or an alias moved outside governance make the report's status ``FAIL`` and are
listed first.

Writing, signing and verifying the files: governance/report_sign.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from governance.audit import Checkpoint, Entry
from governance.crypto import key_fingerprint
from governance.exceptions import GovernanceError, IntegrityError, KeyUnavailableError
from governance.models import (
    ModelRegistry,
    Registration,
    aliases_from_log,
    find_registration,
    history,
    resource,
)
from governance.report_checklist import checklists

if TYPE_CHECKING:
    from governance.context import Governance
    from governance.store import SealedStore

FORMAT = "governance-report/1"
_HISTORY_ROWS = 200

SECTIONS = {
    "identity": "Identity",
    "intended_use": "Intended use and limitations",
    "data_lineage": "Data lineage",
    "training": "Training",
    "evaluation": "Evaluation",
    "gates": "Promotion gates",
    "monitoring": "Monitoring",
    "governance": "Governance evidence",
    "reproducibility": "Reproducibility",
}


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)  # integrity: the report fails
    attention: list[str] = field(default_factory=list)  # gaps a reviewer must look at


def report_for_version(
    session: Governance,
    *,
    store: SealedStore,
    name: str,
    version: str,
    registry: ModelRegistry | None,
    external: Iterable[Checkpoint] = (),
) -> dict[str, Any]:
    """The report of a registered version, from its ``model.register`` entry."""
    registration = find_registration(session.audit, name, version)
    return build_report(
        session, store=store, dossier_id=str(registration.details.get("dossier", "")),
        dossier_sha256=str(registration.details.get("dossier_sha256", "")),
        registration=registration, registry=registry, external=external,
    )  # fmt: skip


def build_report(
    session: Governance,
    *,
    store: SealedStore,
    dossier_id: str,
    dossier_sha256: str | None,
    registration: Registration | None = None,
    registry: ModelRegistry | None = None,
    external: Iterable[Checkpoint] = (),
) -> dict[str, Any]:
    """The report's content (see the module docstring)."""
    target = "report"
    findings = _Findings()
    if registration is not None:
        target = registration.entry.resource
    session.require("audit.read", "audit-log", action="report.generate")
    raw = store.get(dossier_id)  # authenticated: an edited dossier fails here
    if dossier_sha256 and hashlib.sha256(raw).hexdigest() != dossier_sha256:
        findings.problems.append(
            f"the dossier {dossier_id} is not the one recorded at registration (SHA-256 differs)"
        )
    dossier = json.loads(raw)
    sections = {k: v for k, v in dossier.items() if isinstance(v, dict)}
    verified = session.audit.verify(external)
    entries = _readable_entries(session)
    governance = _governance(session, sections, entries, verified, findings)
    identity = dict(sections.get("identity", {}))
    if registration is not None:
        _registration(
            registration,
            registry,
            entries=entries,
            identity=identity,
            governance=governance,
            findings=findings,
        )
    else:
        findings.attention.append("the model is not registered (tracking was off)")
    sections["identity"] = identity
    sections["governance"] = governance
    sections.pop("artifacts", None)  # shown, with each key's status now, under governance
    _monitoring_and_gates(sections, entries, findings)
    lists = checklists(sections)
    for item in lists["eu_ai_act_annex_iv"]:
        if item["status"] != "present":
            findings.attention.append(f"EU AI Act Annex IV {item['item']} ({item['title']}) is "
                                      f"{item['status']}")  # fmt: skip
    overall = "FAIL" if findings.problems else ("ATTENTION" if findings.attention else "PASS")
    now = dt.datetime.fromtimestamp(session.clock(), tz=dt.UTC).isoformat(timespec="seconds")
    name, version = identity.get("model_name"), identity.get("version")
    title = f"{name} version {version}" if name else f"model {identity.get('model_object_id')}"
    content = {
        "format": FORMAT,
        "title": f"Compliance audit report: {title}",
        "generated_at": now,
        "generated_by": session.actor,
        "subject": target,
        "summary": _glance(sections, overall),
        "status": {
            "overall": overall,
            "problems": findings.problems,
            "attention": findings.attention,
        },
        "sections": {k: sections[k] for k in SECTIONS if k in sections}
        | {k: v for k, v in sections.items() if k not in SECTIONS},
        "checklists": lists,
    }
    finite: dict[str, Any] = _finite(content)
    return finite


def _glance(sections: Mapping[str, Any], overall: str) -> dict[str, Any]:
    """The few facts a reviewer reads first."""
    identity = sections.get("identity", {})
    evaluation = sections.get("evaluation", {})
    metric = evaluation.get("metric")
    headline = next((m for m in evaluation.get("test_metrics", []) if m["metric"] == metric), None)
    score = None
    if headline:
        score = f"{headline['value']:.4f}"
        if headline.get("low") is not None:
            score += f" ({headline['low']:.4f} to {headline['high']:.4f})"
    governance = sections.get("governance", {})
    monitoring = sections.get("monitoring", {})
    return {
        "status": overall,
        "model": identity.get("model_name") or identity.get("model_object_id"),
        "version": identity.get("version"),
        "aliases": ", ".join(identity.get("aliases", [])) or None,
        "approval": identity.get("approval"),
        f"test {metric}": score,
        "promotion gates": "passed" if sections.get("gates", {}).get("passed") else "FAILED",
        "monitoring": monitoring.get("latest_status", monitoring.get("status")),
        "audit log": "verifies" if governance.get("audit_log", {}).get("verified") else "BROKEN",
    }


def _governance(
    session: Governance,
    sections: Mapping[str, Any],
    entries: list[Entry],
    verified: Any,
    findings: _Findings,
) -> dict[str, Any]:
    log_id, public = ("", "")
    try:
        log_id, public = session.audit.log_id()
    except (GovernanceError, KeyError, ValueError):
        findings.problems.append("the audit log's first entry (its id and key) is unreadable")
    if not verified.ok:
        findings.problems.append(
            f"THE AUDIT LOG FAILS VERIFICATION at entry {verified.first_bad_seq}: "
            f"{verified.problem}. Nothing in this report that rests on the log can be trusted."
        )
        stored = session.audit.backend.checkpoints()
        checkpoint = stored[-1] if stored else None
    else:
        checkpoint = session.audit.checkpoint()  # proves later that the log was not rewritten
    artifacts = _artifact_status(session, sections, findings)
    ids = {a["object_id"] for a in artifacts}
    ids |= {str(sections.get("identity", {}).get("model_object_id") or "")}
    ids.discard("")
    access = [e for e in entries if e.resource in ids]
    return {
        "audit_log": {
            "verified": verified.ok,
            "summary": verified.summary(),
            "entries": verified.entries,
            "first_bad_entry": verified.first_bad_seq if not verified.ok else None,
            "log_id": log_id,
            "signing_key": key_fingerprint(base64.b64decode(public)) if public else None,
            "location": session.audit.backend.describe(),
        },
        "latest_checkpoint": json.loads(checkpoint.to_json()) if checkpoint else None,
        "sealed_artifacts": artifacts,
        "access_summary": dict(Counter(f"{e.action} {e.outcome}" for e in access)),
        "access_history": [_row(e) for e in access[-_HISTORY_ROWS:]],
        "key_rotations": [_row(e) for e in entries if e.action == "keys.rotate"],
        "shredded_objects": [
            _row(e) for e in entries if e.action == "keys.shred" and e.outcome == "ok"
        ],
    }


def _artifact_status(
    session: Governance, sections: Mapping[str, Any], findings: _Findings
) -> list[dict[str, Any]]:
    rows = []
    for artifact in sections.get("artifacts", {}).get("sealed", []):
        object_id = str(artifact.get("object_id"))
        if session.keyring.is_shredded(object_id):
            key = "shredded"
        else:
            try:
                session.keyring.data_key(object_id)
                key = "present"
            except KeyUnavailableError:
                key = "missing"
        if key != "present" and artifact.get("role") == "model":
            findings.problems.append(
                f"the model's data key is {key}: this version can no longer be opened"
            )
        rows.append(dict(artifact) | {"key_status": key})
    return rows


def _registration(
    registration: Registration,
    registry: ModelRegistry | None,
    *,
    entries: list[Entry],
    identity: dict[str, Any],
    governance: dict[str, Any],
    findings: _Findings,
) -> None:
    name, version = registration.entry.resource.rsplit("/", 1)
    found = history(entries, name, version)
    decisions = found["decisions"]
    moves = found["alias_moves"]
    logged = {a for a, v in aliases_from_log(moves).items() if v == version}
    identity |= {
        "model_name": name,
        "version": version,
        "registered_at": registration.entry.time,
        "registered_by": registration.entry.actor,
        "registration_entry": registration.entry.seq,
        "aliases": sorted(logged),
    }
    if registration.earlier:
        findings.attention.append(
            f"{name} version {version} was registered {registration.earlier + 1} times (the "
            "registry was reset); this report is about the latest registration"
        )
    recorded = str(registration.details.get("model_sha256", ""))
    if recorded and recorded != identity.get("model_sha256"):
        findings.problems.append("the dossier's model hash differs from the registered one")
    approved = [d for d in decisions if d.action == "model.approve" and d.outcome == "ok"]
    rejected = [d for d in decisions if d.action == "model.reject" and d.outcome == "ok"]
    last = max(approved + rejected, key=lambda e: e.seq, default=None)
    identity["approval"] = (
        "pending"
        if last is None
        else ("approved" if last.action == "model.approve" else "rejected")
    )
    if last is not None:
        identity |= {"decided_by": last.actor, "decided_at": last.time}
    if identity["approval"] != "approved":
        findings.attention.append(f"the version is not approved ({identity['approval']})")
    governance["approvals"] = [_row(d) for d in decisions]
    governance["alias_history"] = [_row(m) for m in moves]
    governance["registration"] = _row(registration.entry)
    if registry is None:
        governance["registry"] = {"checked": False}
        return
    current = registry.version(name, version)
    if current is None:
        findings.problems.append(f"the model registry has no {name} version {version}")
        governance["registry"] = {"checked": True, "found": False}
        return
    governance["registry"] = {
        "checked": True,
        "found": True,
        "aliases": sorted(current.aliases),
        "model_sha256_tag": current.tags.get("model_sha256"),
    }
    if current.tags.get("model_sha256") != recorded:
        findings.problems.append(
            "the registry's version holds another model than the one registered (model_sha256)"
        )
    if set(current.aliases) != logged:
        findings.problems.append(
            f"the registry's aliases of this version {sorted(current.aliases)} differ from the "
            f"audited alias moves {sorted(logged)}: an alias was moved outside governance"
        )


def _monitoring_and_gates(
    sections: dict[str, Any], entries: list[Entry], findings: _Findings
) -> None:
    """The latest monitoring run the log knows of (``automl monitor`` after registration
    included), and the gates."""
    monitoring = sections.setdefault("monitoring", {})
    model = str(sections.get("identity", {}).get("model_object_id") or "")
    runs = [e for e in entries if e.action == "model.monitor" and e.resource == model]
    monitoring["runs_in_audit_log"] = [_row(e) for e in runs[-_HISTORY_ROWS:]]
    if runs:
        monitoring["latest_status"] = runs[-1].outcome
        monitoring["latest_checked_at"] = runs[-1].time
    status = monitoring.get("latest_status", monitoring.get("status"))
    if status in ("warn", "fail"):
        findings.attention.append(f"the latest monitoring status is {status}")
    gates = sections.get("gates", {})
    if gates and not gates.get("passed", False):
        findings.problems.append("the model did not pass its promotion gates")


def _readable_entries(session: Governance) -> list[Entry]:
    """Every entry that still parses: a broken log is reported, not refused."""
    found = []
    for line in session.audit.backend.lines():
        try:
            found.append(Entry.parse(line))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _row(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq, "time": entry.time, "actor": entry.actor, "action": entry.action,
        "resource": entry.resource, "outcome": entry.outcome, "details": entry.details,
    }  # fmt: skip


def _finite(value: Any) -> Any:
    """JSON has no NaN: an undefined number is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def problem_exit(content: Mapping[str, Any]) -> GovernanceError | None:
    """The error to exit with when the report's status is FAIL (the report is still written)."""
    status = content.get("status", {})
    if status.get("overall") != "FAIL":
        return None
    return IntegrityError(
        "the report was written, and its status is FAIL:\n  - "
        + "\n  - ".join(status.get("problems", []))
    )


__all__ = ["SECTIONS", "build_report", "problem_exit", "report_for_version", "resource"]
