"""The audit log in a local directory: ``audit.log`` (entries), ``checkpoints.jsonl``.

Appenders in any number of processes take an exclusive ``flock`` only to read the head and
write their lines (``O_APPEND``), then make them durable outside that lock with group commit:
under a second lock, an appender whose bytes an earlier fsync already covered returns at once;
otherwise it fsyncs for everyone who wrote before it. One fsync thus serves a whole queue of
appenders, and an entry is on disk before ``append`` returns.

A crash mid-write can leave an unterminated last line: readers ignore it, ``verify`` reports
it, and the next append cuts it off and records that it did (``audit.repair``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from governance.audit import GENESIS, AuditBackend, Checkpoint, Head
from governance.backends import fsync_dir
from governance.exceptions import AuditError

_BLOCK = 1 << 16


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def head_of(line: bytes) -> Head:
    comma = line.find(b",", 7)
    return Head(int(line[7:comma]), line[-67:-3].decode())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


@dataclass
class _Handles:
    pid: int
    log: int
    inode: int
    append_lock: int
    sync_lock: int
    known: tuple[int, Head] | None = None  # (end offset, head) after this process's last write

    def close(self) -> None:
        for fd in (self.log, self.append_lock, self.sync_lock):
            with contextlib.suppress(OSError):
                os.close(fd)


class FileAuditBackend(AuditBackend):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.log = self.root / "audit.log"
        self._checkpoints = self.root / "checkpoints.jsonl"
        self._boot_bytes = _boot_id().encode()
        self._open: _Handles | None = None
        self._ready = False

    def describe(self) -> str:
        return str(self.root)

    def _ensure(self) -> None:
        if self._ready:
            return
        self._ready = True
        if not self.root.is_dir():
            try:
                self.root.mkdir(parents=True, mode=0o700)
            except FileExistsError:
                pass
            except OSError as exc:
                raise AuditError(f"cannot create the audit log folder {self.root}: {exc}") from None

    # -- the tail --------------------------------------------------------------------------

    @staticmethod
    def _tail(fd: int) -> tuple[bytes, int, int]:
        """``(last complete line, its end offset, torn bytes after it)``, read backwards."""
        size = os.fstat(fd).st_size
        data, position = b"", size
        while position > 0:
            start = max(0, position - _BLOCK)
            data = os.pread(fd, position - start, start) + data
            position = start
            last = data.rfind(b"\n")
            if last == -1:
                continue
            before = data.rfind(b"\n", 0, last)
            if before != -1 or position == 0:
                end = position + last + 1
                return data[before + 1 : last + 1], end, size - end
        return b"", 0, size

    def _read_tail(self) -> tuple[bytes, int, int]:
        if not self.log.is_file():
            return b"", 0, 0
        fd = os.open(self.log, os.O_RDONLY)
        try:
            return self._tail(fd)
        finally:
            os.close(fd)

    def head(self) -> Head:
        line = self._read_tail()[0]
        return head_of(line) if line else Head(0, GENESIS)

    def torn_tail(self) -> int:
        return self._read_tail()[2]

    # -- appending -------------------------------------------------------------------------

    def _handles(self) -> _Handles:
        """This process's open log and lock files, reopened when the log's path no longer
        names the file they point to (moved or replaced: never append to a stray inode)."""
        handles = self._open
        if handles is not None and handles.pid == os.getpid():
            try:
                same = self.log.stat().st_ino == handles.inode
            except OSError:
                same = False
            if same:
                return handles
            handles.close()
        self._open = None
        self._ensure()
        try:
            created = not self.log.exists()
            log = os.open(self.log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.log}: {exc}") from None
        if created:
            fsync_dir(self.root)
        append_lock = os.open(self.root / "append.lock", os.O_RDWR | os.O_CREAT, 0o600)
        sync_lock = os.open(self.root / "sync.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._open = _Handles(os.getpid(), log, os.fstat(log).st_ino, append_lock, sync_lock)
        return self._open

    def append(self, build: Callable[[Head], list[bytes]]) -> tuple[Head, int]:
        handles = self._handles()
        fd = handles.log
        fcntl.flock(handles.append_lock, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if handles.known is not None and handles.known[0] == size:
                end, head, torn = size, handles.known[1], 0  # we wrote last: no need to look
            else:
                line, end, torn = self._tail(fd)
                if torn:
                    os.ftruncate(fd, end)
                head = head_of(line) if line else Head(0, GENESIS)
            lines = build(head)
            payload = b"".join(lines)
            try:
                written = os.write(fd, payload)
                if written != len(payload):
                    raise OSError(f"short write ({written} of {len(payload)} bytes)")
            except OSError as exc:
                # Leave no partial line that a later append would chain onto.
                os.ftruncate(fd, end)
                handles.known = None
                raise AuditError(f"cannot write to the audit log {self.log}: {exc}") from None
            new_end = end + len(payload)
            new_head = head_of(lines[-1])
            handles.known = (new_end, new_head)
        finally:
            fcntl.flock(handles.append_lock, fcntl.LOCK_UN)
        self._group_sync(handles, new_end)
        return new_head, torn

    def _group_sync(self, handles: _Handles, upto: int) -> None:
        """Make the log durable up to ``upto``, sharing one fsync with concurrent appenders:
        whoever holds the sync lock fsyncs everything written so far and records how far that
        reached; appenders queued behind it whose bytes it covered return without an fsync."""
        lock = handles.sync_lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = os.pread(lock, 128, 0).split()
            ours = len(state) == 3 and state[0] == self._boot_bytes
            if ours and int(state[1]) == handles.inode and int(state[2]) >= upto:
                return
            # A writer holding the append lock is mid-write: let it finish, so this fsync
            # covers it too (one more entry per fsync, where an fsync costs 100s of µs).
            fcntl.flock(handles.append_lock, fcntl.LOCK_EX)
            fcntl.flock(handles.append_lock, fcntl.LOCK_UN)
            covered = os.fstat(handles.log).st_size
            try:
                os.fsync(handles.log)
            except OSError as exc:
                raise AuditError(f"cannot make the audit log durable ({exc})") from None
            os.pwrite(lock, b"%s %d %d" % (self._boot_bytes, handles.inode, covered) + b" " * 8, 0)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    # -- reading ---------------------------------------------------------------------------

    def lines(self) -> Iterator[bytes]:
        if not self.log.is_file():
            return
        with self.log.open("rb") as fh:
            for line in fh:
                if line.endswith(b"\n"):
                    yield line

    # -- checkpoints -----------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._ensure()
        with _locked(self.root / "append.lock"):
            fd = os.open(self._checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (checkpoint.to_json() + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def checkpoints(self) -> list[Checkpoint]:
        if not self._checkpoints.is_file():
            return []
        # A crash can tear the last line; a checkpoint is only what was written whole.
        complete = self._checkpoints.read_bytes().split(b"\n")[:-1]
        return [Checkpoint.from_json(line) for line in complete if line.strip()]
