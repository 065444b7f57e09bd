from __future__ import annotations

import multiprocessing
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.crypto import SegmentedAeadParams
from governance.exceptions import GovernanceError, IntegrityError, KeyUnavailableError
from governance.keys import LocalKeyring
from governance.store import ObjectNotFoundError, Operation, SealedStore

SMALL = SegmentedAeadParams(segment_size=256)


@pytest.fixture
def store(tmp_path: Path) -> SealedStore:
    keys = LocalKeyring(tmp_path / "keys")
    keys.init()
    return SealedStore(tmp_path / "store", keys, actor="alice", params=SMALL)


def test_put_get_stat_list_delete(store: SealedStore, tmp_path: Path) -> None:
    seen: list[Operation] = []
    store.listeners.append(seen.append)
    info = store.put("model", b"weights" * 100)
    assert info.size == 700
    assert info.created_by == "alice"
    assert store.get("model") == b"weights" * 100
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(5000))
    store.put("data", source)
    assert store.get("data") == source.read_bytes()
    assert [i.object_id for i in store.list()] == ["data", "model"]
    assert store.stat("model").sha256 == info.sha256
    assert b"weights" not in (store.root / "objects" / "model.sealed").read_bytes()
    store.delete("model")
    with pytest.raises(ObjectNotFoundError):
        store.get("model")
    assert [(o.action, o.resource, o.outcome) for o in seen[:2]] == [
        ("put", "model", "ok"), ("get", "model", "ok")
    ]  # fmt: skip
    assert all(o.actor == "alice" for o in seen)
    with pytest.raises(GovernanceError, match="exists"):
        store.put("data", b"again")


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=2000), segment=st.integers(min_value=57, max_value=600))
def test_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, segment: int
) -> None:
    root = tmp_path_factory.mktemp("prop")
    keys = LocalKeyring(root / "keys")
    keys.init()
    store = SealedStore(root / "store", keys, params=SegmentedAeadParams(segment_size=segment))
    store.put("x", data)
    assert store.get("x") == data
    assert store.verify() == {"x": "ok"}


def _split(path: Path) -> tuple[bytes, bytes]:
    """A sealed file's ciphertext and record (see governance/sealed.py)."""
    raw = path.read_bytes()
    length = struct.unpack(">I", raw[-12:-8])[0]
    return raw[: -12 - length], raw[-12 - length : -12]


def _join(ciphertext: bytes, record: bytes) -> bytes:
    return ciphertext + record + struct.pack(">I", len(record)) + b"GOVSEAL1"


def test_verify_reports_corrupt_and_shredded(store: SealedStore) -> None:
    names = ("good", "flipped", "cut", "cut-at-boundary", "no-trailer", "edited", "gone")
    for name in names:
        store.put(name, os.urandom(3000))
    objects = store.root / "objects"
    raw = bytearray((objects / "flipped.sealed").read_bytes())
    raw[700] ^= 0x10
    (objects / "flipped.sealed").write_bytes(bytes(raw))
    ciphertext, record = _split(objects / "cut.sealed")
    (objects / "cut.sealed").write_bytes(_join(ciphertext[:-300], record))
    ciphertext, record = _split(objects / "cut-at-boundary.sealed")
    (objects / "cut-at-boundary.sealed").write_bytes(_join(ciphertext[: 3 * 256], record))
    path = objects / "no-trailer.sealed"
    path.write_bytes(path.read_bytes()[:-5])
    ciphertext, record = _split(objects / "edited.sealed")
    edited = record.replace(b'"created_by": "alice"', b'"created_by": "mallory"')
    assert edited != record
    (objects / "edited.sealed").write_bytes(_join(ciphertext, edited))
    store.keys.shred("gone")
    report = store.verify()
    assert report["good"] == "ok"
    assert report["flipped"].startswith("corrupt: segment")
    assert "failed authentication" in report["cut"]
    assert "failed authentication" in report["cut-at-boundary"]
    assert "not a sealed file" in report["no-trailer"]
    assert "record of object 'edited' failed authentication" in report["edited"]
    assert report["gone"] == "shredded"
    with pytest.raises(IntegrityError, match="object 'flipped'"):
        store.get("flipped")
    with pytest.raises(IntegrityError, match="object 'edited'"):
        store.get("edited")
    with pytest.raises(KeyUnavailableError, match="shredded"):
        store.get("gone")
    assert [i.object_id for i in store.list()] == [n for n in sorted(names) if n != "no-trailer"]


def test_a_large_object_streams_in_order_through_parallel_readers(tmp_path: Path) -> None:
    keys = LocalKeyring(tmp_path / "keys")
    keys.init()
    message = os.urandom(300_000)
    for workers in (1, 2, 4):
        store = SealedStore(tmp_path / f"s{workers}", keys, params=SMALL, workers=workers)
        store.put(f"big-{workers}", message)
        pieces = [bytes(segment) for segment in store.open(f"big-{workers}")]
        assert len(pieces) > 1000
        assert b"".join(pieces) == message
    # Stopping early is clean: the reader threads finish and the file is closed.
    stream = store.open("big-4")
    next(stream)
    stream.close()


def test_any_fsspec_filesystem_by_url(tmp_path: Path) -> None:
    keys = LocalKeyring(tmp_path / "keys")
    keys.init()
    store = SealedStore("memory://governed-test/store", keys, params=SMALL)
    message = os.urandom(5000)
    store.put("remote", message, name="models/m.pkl")
    assert store.get("remote") == message
    assert [(i.object_id, i.name) for i in store.list()] == [("remote", "models/m.pkl")]
    assert store.verify() == {"remote": "ok"}
    with pytest.raises(GovernanceError, match="exists"):
        store.put("remote", b"again")
    from fsspec.core import url_to_fs

    fs, base = url_to_fs("memory://governed-test/store")
    assert fs.ls(f"{base}/objects", detail=False) == [f"{base}/objects/remote.sealed"]
    raw = bytearray(fs.cat(f"{base}/objects/remote.sealed"))
    assert message[:64] not in raw
    raw[100] ^= 1
    fs.pipe(f"{base}/objects/remote.sealed", bytes(raw))
    assert store.verify()["remote"].startswith("corrupt: segment")
    store.delete("remote")
    assert store.list() == []
    assert SealedStore("file://" + str(tmp_path / "f"), keys).backend.describe() == str(
        tmp_path / "f"
    )


def test_an_id_is_claimed_once(store: SealedStore) -> None:
    store.put("once", b"first")
    store.delete("once")
    with pytest.raises(GovernanceError, match="already has a data key"):
        store.put("once", b"second")
    store.keys.shred("once")
    with pytest.raises(GovernanceError, match="never reused"):
        store.put("once", b"third")
    store.put("once", b"replaced", replace=True)
    assert store.get("once") == b"replaced"
    with pytest.raises(GovernanceError, match="invalid object id"):
        store.put("../escape", b"x")


def test_a_copy_of_a_shredded_object_is_unreadable(store: SealedStore, tmp_path: Path) -> None:
    store.put("pii", b"personal data" * 50)
    backup = tmp_path / "backup.sealed"
    backup.write_bytes((store.root / "objects" / "pii.sealed").read_bytes())
    store.keys.shred("pii")
    (store.root / "objects" / "pii.sealed").write_bytes(backup.read_bytes())
    with pytest.raises(KeyUnavailableError):
        store.get("pii")


def test_swapped_objects_do_not_open(store: SealedStore) -> None:
    store.put("a", b"A" * 1000)
    store.put("b", b"B" * 1000)
    objects = store.root / "objects"
    (objects / "a.sealed").write_bytes((objects / "b.sealed").read_bytes())
    assert store.verify("a")["a"].startswith("corrupt")


def test_rotation_keeps_objects_readable(store: SealedStore) -> None:
    store.put("m", b"model bytes" * 300)
    store.keys.rotate()  # type: ignore[attr-defined]
    assert store.get("m") == b"model bytes" * 300


def _put_many(root: str, worker: int) -> None:
    keys = LocalKeyring(Path(root) / "keys")
    store = SealedStore(Path(root) / "store", keys, params=SMALL)
    for i in range(10):
        store.put(f"w{worker}-{i}", f"worker {worker} object {i}".encode() * 40)


def test_concurrent_puts_from_several_processes(store: SealedStore, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_put_many, args=(str(tmp_path), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    report = store.verify()
    assert len(report) == 40
    assert set(report.values()) == {"ok"}
    assert store.get("w3-9") == b"worker 3 object 9" * 40


def test_a_crash_mid_put_leaves_the_store_consistent(store: SealedStore, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from governance.keys import LocalKeyring
        from governance.store import SealedStore

        class Endless:
            def readinto(self, view):  # a slow, never-ending source
                time.sleep(0.01)
                view[:] = b"x" * len(view)
                return len(view)

        store = SealedStore(Path({str(tmp_path)!r}) / "store",
                            LocalKeyring(Path({str(tmp_path)!r}) / "keys"))
        print("ready", flush=True)
        store.put("half", Endless())
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert [i.object_id for i in store.list()] == []
    with pytest.raises(ObjectNotFoundError):
        store.get("half")
    store.put("after", b"fine")
    assert store.verify() == {"after": "ok"}
