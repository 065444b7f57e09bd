"""The audit log's records: events, entry lines, checkpoints (format: docs/audit-log.md).

An entry line is written once by :func:`encode_entry` and checked from its stored bytes by
:func:`check_line`; nothing is ever re-serialised to be verified.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.crypto import signature_ok
from governance.exceptions import AuditError

GENESIS = "0" * 64
_HASH_SUFFIX = len(',"hash":"') + 64 + len('"}\n')
_SEQ_PREFIX = b'{"seq":'
_PREV_FIELD = b',"prev":"'

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Event:
    """What happened, before it becomes an entry. ``sensitive`` values are never stored: the
    log keeps their keyed hash (``governance audit hash VALUE`` computes it to match)."""

    actor: str
    action: str
    resource: str
    outcome: str
    details: Mapping[str, Scalar] = field(default_factory=dict)
    sensitive: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    seq: int
    prev: str
    time: str
    actor: str
    action: str
    resource: str
    outcome: str
    details: dict[str, Any]
    hash: str

    @classmethod
    def parse(cls, line: bytes) -> Entry:
        payload = json.loads(line)
        return cls(**payload)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "prev": self.prev, "time": self.time, "actor": self.actor,
            "action": self.action, "resource": self.resource, "outcome": self.outcome,
            "details": self.details, "hash": self.hash,
        }  # fmt: skip


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: entry ``seq`` of log ``log_id`` has hash ``hash``."""

    log_id: str
    seq: int
    hash: str
    time: str
    public_key: str  # base64 of the raw Ed25519 public key
    signature: str  # base64

    def message(self) -> bytes:
        fields = ("governed-audit-checkpoint:v1", self.log_id, str(self.seq), self.hash, self.time)
        return "|".join(fields).encode()

    def signed_ok(self) -> bool:
        try:
            public = base64.b64decode(self.public_key, validate=True)
            signature = base64.b64decode(self.signature, validate=True)
        except ValueError:
            return False
        return signature_ok(public, self.message(), signature)

    def to_json(self) -> str:
        return json.dumps(
            {
                "log_id": self.log_id, "seq": self.seq, "hash": self.hash, "time": self.time,
                "public_key": self.public_key, "signature": self.signature,
            },
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        try:
            payload = json.loads(text)
            return cls(
                log_id=str(payload["log_id"]), seq=int(payload["seq"]), hash=str(payload["hash"]),
                time=str(payload["time"]), public_key=str(payload["public_key"]),
                signature=str(payload["signature"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"not a checkpoint: {exc}") from None


@dataclass(frozen=True)
class Head:
    """The last entry of the log: what the next one chains to."""

    seq: int
    hash: str


def utc_now(clock: Callable[[], float]) -> str:
    stamp = dt.datetime.fromtimestamp(clock(), tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_entry(
    *, seq: int, prev: str, time: str, actor: str, action: str, resource: str, outcome: str,
    details: Mapping[str, Any],
) -> bytes:  # fmt: skip
    """The exact bytes of an entry line, hash included."""
    body = json.dumps(
        {
            "seq": seq, "prev": prev, "time": time, "actor": actor, "action": action,
            "resource": resource, "outcome": outcome, "details": dict(details),
        },
        separators=(",", ":"), ensure_ascii=True, allow_nan=False,
    )[:-1].encode()  # fmt: skip
    digest = hashlib.sha256(body).hexdigest()
    return body + b',"hash":"' + digest.encode() + b'"}\n'


def check_line(line: bytes, expected_seq: int, prev: str) -> tuple[str, str]:  # noqa: PLR0911
    """``(hash, problem)``: the line's hash if it is entry ``expected_seq`` chained to
    ``prev``, else a problem. Works on the stored bytes; no JSON parsing."""
    if len(line) < _HASH_SUFFIX + len(_SEQ_PREFIX) or not line.startswith(_SEQ_PREFIX):
        return "", "the entry is malformed"
    if line[-_HASH_SUFFIX : -_HASH_SUFFIX + 9] != b',"hash":"' or line[-3:] != b'"}\n':
        return "", "the entry is malformed (no hash field at its end)"
    stored = line[-_HASH_SUFFIX + 9 : -3]
    if hashlib.sha256(line[:-_HASH_SUFFIX]).hexdigest().encode() != stored:
        return "", "its hash does not match its content: the entry was edited"
    comma = line.find(b",", len(_SEQ_PREFIX))
    try:
        seq = int(line[len(_SEQ_PREFIX) : comma])
    except ValueError:
        return "", "the entry is malformed (sequence number)"
    if line[comma : comma + 9] != _PREV_FIELD:
        return "", "the entry is malformed (prev field)"
    if seq != expected_seq:
        if seq < expected_seq:
            return "", f"entry {seq} appears again or out of order (expected {expected_seq})"
        return "", f"entries {expected_seq} to {seq - 1} are missing (found {seq})"
    if line[comma + 9 : comma + 73].decode() != prev:
        return "", "it does not chain to the entry before it: an entry was inserted or removed"
    return stored.decode(), ""
