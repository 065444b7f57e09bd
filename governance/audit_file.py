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
from pathlib import Path

from governance.audit import GENESIS, AuditBackend, Checkpoint, Head
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


class FileAuditBackend(AuditBackend):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.log = self.root / "audit.log"
        self._checkpoints = self.root / "checkpoints.jsonl"
        self._boot = _boot_id()

    def describe(self) -> str:
        return str(self.root)

    def _ensure(self) -> None:
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

    def head(self) -> Head:
        if not self.log.is_file():
            return Head(0, GENESIS)
        fd = os.open(self.log, os.O_RDONLY)
        try:
            line, _, _ = self._tail(fd)
        finally:
            os.close(fd)
        return head_of(line) if line else Head(0, GENESIS)

    def torn_tail(self) -> int:
        if not self.log.is_file():
            return 0
        fd = os.open(self.log, os.O_RDONLY)
        try:
            return self._tail(fd)[2]
        finally:
            os.close(fd)

    # -- appending -------------------------------------------------------------------------

    def append(self, build: Callable[[Head], list[bytes]]) -> tuple[Head, int]:
        self._ensure()
        try:
            created = not self.log.exists()
            fd = os.open(self.log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.log}: {exc}") from None
        try:
            if created:
                _fsync_dir(self.root)
            with _locked(self.root / "append.lock"):
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
                    raise AuditError(f"cannot write to the audit log {self.log}: {exc}") from None
                new_end = end + len(payload)
                new_head = head_of(lines[-1])
            self._group_sync(fd, new_end)
            return new_head, torn
        finally:
            os.close(fd)

    def _group_sync(self, fd: int, upto: int) -> None:
        """Make the log durable up to ``upto``, sharing one fsync with concurrent appenders."""
        inode = os.fstat(fd).st_ino
        with _locked(self.root / "sync.lock") as lock:
            state = os.pread(lock, 128, 0).decode(errors="replace").split()
            same_file = len(state) == 3 and state[:2] == [self._boot, str(inode)]
            if same_file and int(state[2]) >= upto:
                return
            covered = os.fstat(fd).st_size
            try:
                os.fsync(fd)
            except OSError as exc:
                raise AuditError(f"cannot make the audit log durable ({exc})") from None
            record = f"{self._boot} {inode} {covered}".encode().ljust(128)
            os.pwrite(lock, record, 0)

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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
