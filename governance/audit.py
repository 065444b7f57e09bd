"""The audit log: append-only, hash-chained, with signed checkpoints that can be kept elsewhere.

Each entry is one line of JSON with a fixed field order::

    {"seq":7,"prev":"<64 hex>","time":"2026-11-21T18:00:00.000000Z","actor":"alice",
     "action":"get","resource":"model-…","outcome":"ok","details":{…},"hash":"<64 hex>"}

``hash`` is the SHA-256 of the line's bytes before ``,"hash"``, which include ``prev``, the
previous entry's hash: editing, deleting, inserting or reordering entries breaks the chain at
the first entry touched. Entry 1 (``audit.init``) names the log (a random id) and the public
key of its Ed25519 signing key. Every ``checkpoint_every`` entries and on close, a checkpoint
signs (log id, sequence number, hash, time). A checkpoint kept somewhere else (a ticket, an
MLflow tag, another machine) and given back to ``verify`` also catches a log cut short or
rewritten with a new key, which a chain alone cannot.

Verification hashes the stored bytes themselves (no re-serialisation), so it runs near the raw
rate of SHA-256 over the log. Appends are durable before they return; concurrent appenders
share fsyncs (group commit). Storage is a :class:`AuditBackend`: a local directory (default)
or PostgreSQL (governance/audit_pg.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from governance.audit_records import (
    GENESIS,
    Checkpoint,
    Entry,
    Event,
    Head,
    Scalar,
    check_line,
    encode_entry,
    utc_now,
)
from governance.crypto import keyed_hash, public_key, sign
from governance.exceptions import AuditError, GovernanceError

__all__ = [
    "GENESIS",
    "AuditBackend",
    "AuditKeys",
    "AuditLog",
    "Checkpoint",
    "Entry",
    "Event",
    "Head",
    "Scalar",
    "VerifyReport",
    "check_line",
    "encode_entry",
]


@dataclass
class VerifyReport:
    ok: bool
    entries: int
    head: Head
    checkpoints: int
    first_bad_seq: int | None = None
    problem: str = ""
    torn_tail: int = 0  # bytes of a last line a crash left half-written (repaired on append)

    def summary(self) -> str:
        if not self.ok:
            return f"FAILED at entry {self.first_bad_seq}: {self.problem}"
        text = (
            f"ok: {self.entries} entries, head {self.head.seq} {self.head.hash[:16]}…, "
            f"{self.checkpoints} checkpoints verified"
        )
        if self.torn_tail:
            text += (
                f"; a torn last line ({self.torn_tail} bytes, a crash mid-append) follows the "
                "head and will be repaired by the next append"
            )
        return text


class AuditKeys(ABC):
    """The audit log's secrets: an Ed25519 signing key and a key for keyed hashes."""

    @abstractmethod
    def signing_key(self) -> bytes: ...

    @abstractmethod
    def hash_key(self) -> bytes: ...


class AuditBackend(ABC):
    """Where entry lines live. Appends are serialised across processes by the backend."""

    @abstractmethod
    def append(self, build: Callable[[Head], list[bytes]]) -> tuple[Head, int]:
        """Under the backend's exclusive lock, call ``build`` with the current head, store the
        lines it returns, and make them durable before returning (the new head, and how many
        bytes of a torn tail were cut first)."""

    @abstractmethod
    def head(self) -> Head:
        """The last complete entry (``Head(0, GENESIS)`` for an empty log), read cheaply."""

    @abstractmethod
    def lines(self) -> Iterator[bytes]:
        """Every complete line, in order (a torn last line is not yielded)."""

    @abstractmethod
    def torn_tail(self) -> int:
        """How many bytes of an unterminated last line follow the last complete one."""

    @abstractmethod
    def add_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    @abstractmethod
    def checkpoints(self) -> list[Checkpoint]: ...

    def describe(self) -> str:
        return repr(self)


class AuditLog:
    """Append, checkpoint, verify and query one audit log."""

    def __init__(
        self,
        backend: AuditBackend,
        *,
        keys: AuditKeys | None = None,
        clock: Callable[[], float] = time.time,
        checkpoint_every: int = 1000,
    ) -> None:
        self.backend = backend
        self.keys = keys
        self.clock = clock
        self.checkpoint_every = checkpoint_every
        self._last_checkpointed = -1

    # -- writing ---------------------------------------------------------------------------

    def _require_keys(self) -> AuditKeys:
        if self.keys is None:
            raise AuditError(
                "the audit log cannot be written: there is no keyring holding its signing key "
                "(create one with `governance keys init`)"
            )
        return self.keys

    def _details(self, event: Event) -> dict[str, Any]:
        details: dict[str, Any] = {}
        for key, value in event.details.items():
            if not isinstance(value, str | int | float | bool | type(None)):
                raise AuditError(
                    f"audit detail {key!r} must be a scalar, not {type(value).__name__}"
                )
            details[key] = value
        if event.sensitive:
            secret = self._require_keys().hash_key()
            for key, value in event.sensitive.items():
                details[key] = keyed_hash(secret, value)
        return details

    def append(self, event: Event) -> None:
        """Append one entry; it is durable when this returns (raises :class:`AuditError`
        otherwise: the caller's operation must then not happen)."""
        self.append_many([event], return_entries=False)

    def append_many(self, events: Iterable[Event], *, return_entries: bool = True) -> list[Entry]:
        """Append ``events`` as consecutive entries with one durable write; the entries."""
        keys = self._require_keys()
        pending = [(event, self._details(event)) for event in events]
        if not pending:
            return []
        written: list[bytes] = []
        signing = keys.signing_key()

        def build(head: Head) -> list[bytes]:
            lines: list[bytes] = []
            seq, prev = head.seq, head.hash
            stamp = utc_now(self.clock)
            if seq == 0:
                public = base64.b64encode(public_key(signing)).decode()
                genesis = encode_entry(
                    seq=1, prev=GENESIS, time=stamp, actor=pending[0][0].actor,
                    action="audit.init", resource="audit-log", outcome="ok",
                    details={"log_id": str(uuid.uuid4()), "public_key": public},
                )  # fmt: skip
                lines.append(genesis)
                seq, prev = 1, genesis[-67:-3].decode()
            for event, details in pending:
                seq += 1
                line = encode_entry(
                    seq=seq, prev=prev, time=stamp, actor=event.actor, action=event.action,
                    resource=event.resource, outcome=event.outcome, details=details,
                )  # fmt: skip
                lines.append(line)
                prev = line[-67:-3].decode()
            written[:] = lines
            return lines

        head, torn = self.backend.append(build)
        entries = [Entry.parse(line) for line in written] if return_entries else []
        if torn:
            # Reported in the log itself: the next reader sees that a crash cut an entry. The
            # torn bytes are gone by now, so this append finds none and does not recurse.
            detail = {"torn_bytes_removed": torn}
            self.append(Event(pending[0][0].actor, "audit.repair", "audit-log", "ok", detail))
        if head.seq // self.checkpoint_every > (head.seq - len(written)) // self.checkpoint_every:
            self.checkpoint()
        return entries

    def head(self) -> Head:
        return self.backend.head()

    def log_id(self) -> tuple[str, str]:
        """The log's id and base64 public key, from entry 1."""
        for line in self.backend.lines():
            details = Entry.parse(line).details
            return str(details["log_id"]), str(details["public_key"])
        raise AuditError(f"the audit log {self.backend.describe()} is empty")

    def checkpoint(self) -> Checkpoint:
        """Sign the current head and store the checkpoint; return it (print it, keep it)."""
        signing = self._require_keys().signing_key()
        head = self.head()
        if head.seq == 0:
            raise AuditError("the audit log is empty: nothing to checkpoint yet")
        log_id, public = self.log_id()
        if base64.b64decode(public) != public_key(signing):
            raise AuditError("this signing key is not the one that started the audit log")
        unsigned = Checkpoint(log_id, head.seq, head.hash, utc_now(self.clock), public, "")
        signature = base64.b64encode(sign(signing, unsigned.message())).decode()
        checkpoint = Checkpoint(log_id, head.seq, head.hash, unsigned.time, public, signature)
        self.backend.add_checkpoint(checkpoint)
        self._last_checkpointed = head.seq
        return checkpoint

    def close(self) -> None:
        """Checkpoint the head if anything was appended since the last checkpoint."""
        if self.keys is None:
            return
        head = self.head()
        if head.seq and head.seq != self._last_checkpointed:
            stored = self.backend.checkpoints()
            if not stored or stored[-1].seq != head.seq:
                self.checkpoint()

    # -- checking ----------------------------------------------------------------------------

    def verify(self, external: Iterable[Checkpoint] = ()) -> VerifyReport:
        """Check the chain, every stored checkpoint, and ``external`` checkpoints."""
        external = list(external)
        stored = self.backend.checkpoints()
        hashes: dict[int, str] = {}
        want = {c.seq for c in stored} | {c.seq for c in external}
        prev, seq = GENESIS, 0
        report = VerifyReport(True, 0, Head(0, GENESIS), 0)
        for line in self.backend.lines():
            seq += 1
            digest, problem = check_line(line, seq, prev)
            if problem:
                return _failed(report, seq, problem)
            if seq in want:
                hashes[seq] = digest
            prev = digest
        report.entries, report.head = seq, Head(seq, prev)
        report.torn_tail = self.backend.torn_tail()
        if seq == 0:
            if external:
                return _failed(report, 1, "the log is empty, but a checkpoint says it was not")
            return report
        log_id, public = self.log_id()
        checkpoints = [(c, "stored") for c in stored]
        checkpoints += [(c, "external") for c in external]
        for checkpoint, where in checkpoints:
            problem = _checkpoint_problem(checkpoint, log_id, public, hashes, seq)
            if problem:
                first_bad = min(checkpoint.seq, seq + 1)
                return _failed(
                    report, first_bad, f"{where} checkpoint at entry {checkpoint.seq}: {problem}"
                )
            report.checkpoints += 1
        return report

    # -- reading ---------------------------------------------------------------------------

    def entries(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        resource: str | None = None,
    ) -> Iterator[Entry]:
        """Entries matching every given filter (times are ISO 8601 UTC; ``action`` and
        ``resource`` match a prefix, so ``action="model."`` finds every model action)."""
        low, high = _instant(since, "since"), _instant(until, "until")
        for line in self.backend.lines():
            entry = Entry.parse(line)
            if low is not None and entry.time < low:
                continue
            if high is not None and entry.time > high:
                continue
            if actor is not None and entry.actor != actor:
                continue
            if action is not None and not entry.action.startswith(action):
                continue
            if resource is not None and not entry.resource.startswith(resource):
                continue
            yield entry

    def hash_value(self, value: str) -> str:
        """The keyed hash under which the log records ``value`` when it is sensitive."""
        return keyed_hash(self._require_keys().hash_key(), value)


def _failed(report: VerifyReport, seq: int, problem: str) -> VerifyReport:
    report.ok, report.first_bad_seq, report.problem = False, seq, problem
    return report


def _checkpoint_problem(
    checkpoint: Checkpoint, log_id: str, public: str, hashes: dict[int, str], last: int
) -> str:
    if not checkpoint.signed_ok():
        return "its signature does not verify: it was forged or altered"
    if checkpoint.log_id != log_id:
        return f"it belongs to another log ({checkpoint.log_id})"
    if checkpoint.public_key != public:
        return "it was signed with another key than the log's: the log was rewritten and re-keyed"
    if checkpoint.seq > last:
        return f"the log ends at entry {last}: its tail was cut off"
    if hashes.get(checkpoint.seq) != checkpoint.hash:
        return "the entry's hash differs from the signed one: the log was rewritten"
    return ""


def _instant(text: str | None, name: str) -> str | None:
    """An ISO 8601 time as the log writes it (UTC, microseconds), for string comparison."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GovernanceError(
            f"--{name} {text!r} is not an ISO 8601 time; use e.g. 2026-11-21 or "
            "2026-11-21T18:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
