"""The audit log: chain, checkpoints, tamper detection, fail-closed, concurrency, crashes."""

from __future__ import annotations

import base64
import itertools
import json
import multiprocessing
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from governance.audit import AuditLog, Checkpoint, Event, encode_entry
from governance.audit_file import FileAuditBackend
from governance.context import open_governance
from governance.crypto import new_signing_key, public_key, sign
from governance.exceptions import AuditError
from governance.keys import LocalKeyring


class Clock:
    """A deterministic clock: each call is one second after the previous one."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def keyring(tmp_path: Path) -> LocalKeyring:
    ring = LocalKeyring(tmp_path / "keys")
    ring.init()
    return ring


@pytest.fixture
def log(tmp_path: Path, keyring: LocalKeyring) -> AuditLog:
    return AuditLog(
        FileAuditBackend(tmp_path / "audit"), keys=keyring.audit_keys(), clock=Clock(),
        checkpoint_every=10,
    )  # fmt: skip


def _fill(log: AuditLog, count: int = 30) -> None:
    for i in range(count):
        log.append(Event(f"user{i % 3}", "get", f"model-{i}", "ok", {"bytes": i}))


def _lines(log: AuditLog) -> list[bytes]:
    return (Path(log.backend.describe()) / "audit.log").read_bytes().splitlines(keepends=True)


def _rewrite(log: AuditLog, lines: list[bytes]) -> None:
    (Path(log.backend.describe()) / "audit.log").write_bytes(b"".join(lines))


def test_entries_chain_and_verify(log: AuditLog) -> None:
    _fill(log)
    report = log.verify()
    assert report.ok, report.summary()
    assert report.entries == 31  # audit.init, then 30
    assert report.checkpoints == 3  # every 10 entries
    entries = list(log.entries())
    assert entries[0].action == "audit.init"
    assert [e.seq for e in entries] == list(range(1, 32))
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    first = entries[1]
    assert (first.actor, first.action, first.resource, first.outcome) == (
        "user0", "get", "model-0", "ok"
    )  # fmt: skip
    assert first.time == "2027-01-15T08:00:01.000000Z"  # from the injected clock
    assert first.details == {"bytes": 0}


def test_sensitive_values_are_keyed_hashes(log: AuditLog) -> None:
    log.append(Event("alice", "get", "dataset-1", "ok", {}, {"subject": "jane.doe@example.org"}))
    raw = b"".join(_lines(log))
    assert b"jane.doe" not in raw
    recorded = next(iter(log.entries(resource="dataset-1"))).details["subject"]
    assert recorded == log.hash_value("jane.doe@example.org")
    assert recorded != log.hash_value("john.doe@example.org")
    assert recorded.startswith("hmac-sha256:")


@pytest.mark.parametrize(
    ("tamper", "first_bad", "fragment"),
    [
        ("edit", 6, "was edited"),
        ("delete", 6, "entries 6 to 6 are missing"),
        ("insert", 6, "does not chain"),
        ("reorder", 6, "missing"),
        ("duplicate", 7, "appears again"),
    ],
)
def test_verify_finds_the_first_bad_entry(
    log: AuditLog, tamper: str, first_bad: int, fragment: str
) -> None:
    _fill(log)
    lines = _lines(log)
    if tamper == "edit":
        lines[5] = lines[5].replace(b'"actor":"user1"', b'"actor":"userX"')
    elif tamper == "delete":
        del lines[5]
    elif tamper == "insert":
        # A well-formed entry with a correct hash of its own, claiming seq 6.
        forged = encode_entry(
            seq=6, prev="f" * 64, time="2027-01-15T08:00:00.000000Z", actor="mallory",
            action="get", resource="model-x", outcome="ok", details={},
        )  # fmt: skip
        lines.insert(5, forged)
    elif tamper == "reorder":
        lines[5], lines[6] = lines[6], lines[5]
    else:
        lines.insert(6, lines[5])
    _rewrite(log, lines)
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.summary()
    assert fragment in report.problem


def test_forged_checkpoints_fail(log: AuditLog) -> None:
    _fill(log)
    path = Path(log.backend.describe()) / "checkpoints.jsonl"
    stored = path.read_text().splitlines()
    record = json.loads(stored[1])
    record["signature"] = base64.b64encode(b"\0" * 64).decode()
    path.write_text("\n".join([stored[0], json.dumps(record), *stored[2:]]) + "\n")
    report = log.verify()
    assert not report.ok
    assert "signature does not verify" in report.problem
    # A checkpoint signed correctly but claiming another hash is no better.
    record = json.loads(stored[1])
    fake = Checkpoint(record["log_id"], record["seq"], "a" * 64, record["time"],
                      record["public_key"], "")  # fmt: skip
    signing = log.keys.signing_key()  # type: ignore[union-attr]
    fake = Checkpoint(**{**fake.__dict__, "signature": base64.b64encode(
        sign(signing, fake.message())).decode()})  # fmt: skip
    path.write_text("\n".join([stored[0], fake.to_json(), *stored[2:]]) + "\n")
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == record["seq"]
    assert "differs from the signed one" in report.problem


def test_a_cut_tail_is_caught_by_a_checkpoint_kept_elsewhere(log: AuditLog) -> None:
    _fill(log, 25)
    kept = Checkpoint.from_json(log.checkpoint().to_json())  # printed, kept in a ticket
    assert kept.seq == 26
    lines = _lines(log)
    _rewrite(log, lines[:22])
    # Whoever cut the tail also removed the checkpoints that mention it...
    path = Path(log.backend.describe()) / "checkpoints.jsonl"
    keep = [c for c in path.read_text().splitlines() if json.loads(c)["seq"] <= 22]
    path.write_text("".join(c + "\n" for c in keep))
    assert log.verify().ok  # ...so the log alone looks whole,
    report = log.verify([kept])  # but not against the outside record.
    assert not report.ok
    assert report.first_bad_seq == 23
    assert "tail was cut off" in report.problem


def test_a_log_rewritten_with_another_key_is_caught(log: AuditLog, tmp_path: Path) -> None:
    _fill(log, 5)
    kept = log.checkpoint()

    # The attacker rebuilds the whole log with a key of their own and re-signs everything.
    class ForgedKeys:
        def __init__(self) -> None:
            self._signing = new_signing_key()

        def signing_key(self) -> bytes:
            return self._signing

        def hash_key(self) -> bytes:
            return b"k" * 32

    forged = AuditLog(FileAuditBackend(tmp_path / "forged"), keys=ForgedKeys(), clock=Clock())  # type: ignore[arg-type]
    for entry in list(log.entries())[1:]:
        forged.append(Event(entry.actor, entry.action, entry.resource, "ok"))
    forged.checkpoint()
    assert forged.verify().ok
    report = forged.verify([kept])
    assert not report.ok
    assert "another log" in report.problem or "another key" in report.problem
    assert public_key(forged.keys.signing_key()) != base64.b64decode(kept.public_key)  # type: ignore[union-attr]


def test_a_torn_last_line_is_reported_then_repaired(log: AuditLog) -> None:
    _fill(log, 5)
    path = Path(log.backend.describe()) / "audit.log"
    with path.open("ab") as fh:
        fh.write(b'{"seq":7,"prev":"abc')  # what a crash mid-write leaves
    report = log.verify()
    assert report.ok
    assert report.torn_tail == 20
    assert "torn last line" in report.summary()
    log.append(Event("alice", "put", "model-9", "ok"))
    report = log.verify()
    assert report.ok and report.torn_tail == 0
    actions = [e.action for e in log.entries()]
    assert actions[-2:] == ["put", "audit.repair"]
    repair = next(iter(log.entries(action="audit.repair")))
    assert repair.details == {"torn_bytes_removed": 20}


def test_filters(log: AuditLog) -> None:
    _fill(log, 12)
    assert {e.actor for e in log.entries(actor="user2")} == {"user2"}
    assert len(list(log.entries(action="get"))) == 12
    assert [e.resource for e in log.entries(resource="model-1")] == [
        "model-1", "model-10", "model-11"
    ]  # fmt: skip
    window = list(log.entries(since="2027-01-15T08:00:04Z", until="2027-01-15T08:00:06Z"))
    assert [e.seq for e in window] == [5, 6, 7]
    with pytest.raises(Exception, match="not an ISO 8601 time"):
        list(log.entries(since="yesterday"))


def _append_many(root: str, worker: int, count: int) -> None:
    ring = LocalKeyring(Path(root) / "keys")
    log = AuditLog(FileAuditBackend(Path(root) / "audit"), keys=ring.audit_keys())
    for i in range(count):
        log.append(Event(f"worker-{worker}", "put", f"w{worker}-{i}", "ok"))
    log.append_many([Event(f"worker-{worker}", "get", f"b{worker}-{i}", "ok") for i in range(50)])


def test_eight_processes_appending_at_once(tmp_path: Path, keyring: LocalKeyring) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(tmp_path), w, 60)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    log = AuditLog(FileAuditBackend(tmp_path / "audit"), keys=keyring.audit_keys())
    report = log.verify()
    assert report.ok, report.summary()
    entries = list(log.entries())
    assert len(entries) == 1 + 8 * (60 + 50)
    resources = [e.resource for e in entries[1:]]
    assert len(set(resources)) == len(resources)  # nothing duplicated
    assert {f"w{w}-{i}" for w in range(8) for i in range(60)} <= set(resources)  # nothing lost
    assert [e.action for e in entries].count("audit.init") == 1  # one chain, not forks


def test_a_process_killed_mid_append_leaves_a_log_that_verifies(
    tmp_path: Path, keyring: LocalKeyring
) -> None:
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from governance.audit import AuditLog, Event
        from governance.audit_file import FileAuditBackend
        from governance.keys import LocalKeyring

        root = Path({str(tmp_path)!r})
        log = AuditLog(FileAuditBackend(root / "audit"),
                       keys=LocalKeyring(root / "keys").audit_keys())
        print("ready", flush=True)
        while True:
            log.append_many([Event("bulk", "put", "x" * 200, "ok") for _ in range(5000)])
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    time.sleep(1.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    log = AuditLog(FileAuditBackend(tmp_path / "audit"), keys=keyring.audit_keys())
    report = log.verify()
    assert report.ok, report.summary()
    assert report.entries > 5000
    log.append(Event("after", "get", "y", "ok"))
    assert log.verify().ok


def test_fail_closed_no_entry_no_operation(tmp_path: Path, keyring: LocalKeyring) -> None:
    session = open_governance(keyring=tmp_path / "keys", audit=tmp_path / "audit")
    store = session.store(tmp_path / "store")
    store.put("kept", b"secret model")
    # The log becomes unwritable (here: its file is replaced by a directory).
    log_file = tmp_path / "audit" / "audit.log"
    log_file.rename(tmp_path / "audit" / "moved.log")
    log_file.mkdir()
    with pytest.raises(AuditError):
        store.put("new", b"never stored")
    assert store.ids() == ["kept"]
    with pytest.raises(AuditError):
        store.get("kept")  # no entry, no plaintext
    with pytest.raises(AuditError):
        store.delete("kept")
    assert store.ids() == ["kept"]
    with pytest.raises(AuditError):
        session.shred("kept")
    assert not keyring_shredded(tmp_path, "kept")


def keyring_shredded(tmp_path: Path, object_id: str) -> bool:
    return LocalKeyring(tmp_path / "keys").is_shredded(object_id)


def test_store_and_key_operations_are_audited(tmp_path: Path, keyring: LocalKeyring) -> None:
    session = open_governance(
        keyring=tmp_path / "keys", audit=tmp_path / "audit", actor="alice", clock=Clock()
    )
    store = session.store(tmp_path / "store")
    store.put("m", b"weights", name="models/m.pkl")
    assert store.get("m") == b"weights"
    assert store.verify() == {"m": "ok"}
    session.rotate_keys()
    session.shred("m")
    store.delete("m")
    session.close()
    entries = list(session.audit.entries())
    seen = [(e.action, e.resource, e.outcome) for e in entries[1:]]
    assert seen == [
        ("put", "m", "ok"), ("get", "m", "ok"), ("verify", "m", "ok"),
        ("keys.rotate", "keyring", "ok"), ("keys.shred", "m", "ok"), ("delete", "m", "ok"),
    ]  # fmt: skip
    put = entries[1]
    assert put.actor == "alice"
    assert put.details["bytes"] == 7 and len(str(put.details["sha256"])) == 64
    assert b"weights" not in (tmp_path / "audit" / "audit.log").read_bytes()
    assert session.audit.verify().checkpoints >= 1  # close() signed one


def test_anyone_can_verify_from_the_documented_format(log: AuditLog) -> None:
    """An independent verifier, written from docs/audit-log.md alone, accepts our log."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    _fill(log, 12)
    lines = _lines(log)
    prev = "0" * 64
    for number, line in enumerate(lines, start=1):
        cut = line.rindex(b',"hash":"')
        entry = json.loads(line)
        assert hashlib.sha256(line[:cut]).hexdigest() == entry["hash"]
        assert (entry["seq"], entry["prev"]) == (number, prev)
        prev = entry["hash"]
    genesis = json.loads(lines[0])["details"]
    checkpoints = (Path(log.backend.describe()) / "checkpoints.jsonl").read_text().splitlines()
    assert checkpoints
    for text in checkpoints:
        point = json.loads(text)
        assert point["public_key"] == genesis["public_key"]
        message = "|".join(
            ["governed-audit-checkpoint:v1", point["log_id"], str(point["seq"]),
             point["hash"], point["time"]]
        ).encode()  # fmt: skip
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(point["public_key"]))
        key.verify(base64.b64decode(point["signature"]), message)  # raises if forged
        assert json.loads(lines[point["seq"] - 1])["hash"] == point["hash"]
