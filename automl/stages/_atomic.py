"""Atomic file writes: a reader sees the old file or the whole new one, never a torn one.

Stages write several outputs; :func:`atomic_outputs` stages them all in temporary files beside
their targets and renames them into place only when every one was written, so a failure leaves
no partial output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from automl.exceptions import ConfigError
from governance.backends import fsync_dir


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class AtomicOutputs:
    """Collects temporary files; :meth:`commit` renames them all over their targets."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path_for(self, target: str | os.PathLike[str]) -> Path:
        """Return a temporary path in the target's directory to write the output to."""
        final = Path(target)
        if final.is_dir():
            raise ConfigError(f"output path {final} is a directory; give a file path instead.")
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        # mkstemp makes 0600 files; outputs get the usual mode (0666 less the umask).
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        self._pending.append((Path(tmp), final))
        return Path(tmp)

    def write_bytes(self, target: str | os.PathLike[str], data: bytes) -> None:
        tmp = self.path_for(target)
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def write_json(self, target: str | os.PathLike[str], payload: Any) -> None:
        text = json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False, default=str)
        self.write_bytes(target, (text + "\n").encode("utf-8"))

    def directory(self, target: str | os.PathLike[str]) -> Path:
        """A temporary directory to fill; it replaces ``target`` (a directory) on commit."""
        final = Path(target)
        if final.exists() and not final.is_dir():
            raise ConfigError(f"output path {final} is a file; give a directory path instead.")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        tmp.chmod(0o777 & ~_umask())
        self._pending.append((tmp, final))
        return tmp

    def write_with(self, target: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
        """Let ``writer`` fill a temporary path (e.g. ``df.to_parquet``)."""
        writer(self.path_for(target))

    def commit(self) -> None:
        # Every output was written and checked before this point; renames do not fail in
        # practice, but if one does, the temporaries that are left are not left behind.
        try:
            for tmp, final in self._pending:
                if tmp.is_dir() and final.is_dir():
                    # A directory cannot be renamed over a non-empty one: swap, then remove.
                    old = final.with_name(f".{final.name}.old")
                    shutil.rmtree(old, ignore_errors=True)
                    final.replace(old)
                    tmp.replace(final)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    tmp.replace(final)
        except OSError:
            self.discard()
            raise
        for directory in {final.parent for _, final in self._pending}:
            fsync_dir(directory)
        self._pending.clear()

    def discard(self) -> None:
        for tmp, _ in self._pending:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        self._pending.clear()


@contextlib.contextmanager
def atomic_outputs() -> Iterator[AtomicOutputs]:
    """Write several outputs all-or-nothing::

    with atomic_outputs() as out:
        out.write_with("a.parquet", df.to_parquet)
        out.write_json("b.json", {...})
    """
    outputs = AtomicOutputs()
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
