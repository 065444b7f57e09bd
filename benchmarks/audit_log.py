"""Audit log speed, each figure beside the physical limit measured in the same run.

    python benchmarks/audit_log.py --dir /work/tmp-bench --out benchmarks/audit_log.json

- verify: entries per second over a log of ``--entries`` entries, against the raw rate of
  SHA-256 chaining over the same lines in memory (``h = sha256(h || line)``), one thread.
  Target: at least 200,000 entries/s.
- durable appends from one process (``AuditLog.append``, on disk before it returns), against
  the raw rate of ``write`` + ``fsync`` of a line of the same size to a file on the same disk.
  Target: at least 0.8 x raw.
- durable appends from 4 processes at once, in total, against the same raw rate.
  Target: at least 2 x raw (this needs group commit: one fsync serving several appenders).
- ``append_many`` (one durable write per batch of 1,000) as a figure of its own.

The directory must be on the disk whose fsync you mean to measure (not tmpfs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import git_commit, machine

from governance.audit import AuditLog, Event
from governance.audit_file import FileAuditBackend
from governance.keys import LocalKeyring


def _event(i: int) -> Event:
    return Event(
        "pipeline-ci", "get", f"model-{i:012d}", "ok",
        {"bytes": 1_234_567, "sha256": "ab" * 32, "name": "models/model.sealed"},
    )  # fmt: skip


def _log(root: Path) -> AuditLog:
    keys = LocalKeyring(root / "keys")
    return AuditLog(FileAuditBackend(root / "audit"), keys=keys.audit_keys())


def raw_fsync_rate(folder: Path, line: bytes, seconds: float) -> float:
    """Appends of ``line`` with write + fsync each: the disk's durable-append rate."""
    path = folder / "raw.log"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    count, start = 0, time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            os.write(fd, line)
            os.fsync(fd)
            count += 1
    finally:
        os.close(fd)
        path.unlink()
    return count / (time.perf_counter() - start)


def _appender(root: str, worker: int, seconds: float, start_at: float, out: object) -> None:
    log = _log(Path(root))
    while time.time() < start_at:
        time.sleep(0.001)
    count, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        log.append(_event(worker * 10_000_000 + count))
        count += 1
    out.put(count)  # type: ignore[attr-defined]


def appends(root: Path, processes: int, seconds: float) -> float:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 2.0  # every worker imported and ready before the clock starts
    workers = [
        ctx.Process(target=_appender, args=(str(root), w, seconds, start_at, queue))
        for w in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(queue.get(timeout=seconds + 120) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("benchmarks/.tmp-audit"))
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/audit_log.json"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        LocalKeyring(root / "keys").init()
        log = _log(root)
        log.append(_event(0))  # entry 1 (audit.init) and a first entry
        line = next(iter(log.backend.lines()))
        sample = list(log.backend.lines())[-1]

        raw = raw_fsync_rate(root, sample, args.seconds)
        one = appends(root, 1, args.seconds)
        four = appends(root, 4, args.seconds)

        start = time.perf_counter()
        for first in range(0, args.entries, 1000):
            log.append_many([_event(first + i) for i in range(1000)])
        bulk = args.entries / (time.perf_counter() - start)

        start = time.perf_counter()
        report = log.verify()
        verify = report.entries / (time.perf_counter() - start)
        assert report.ok, report.summary()

        lines = list(log.backend.lines())
        start = time.perf_counter()
        chained = hashlib.sha256(b"").digest()
        for item in lines:
            chained = hashlib.sha256(chained + item).digest()
        raw_chain = len(lines) / (time.perf_counter() - start)
        size = sum(len(item) for item in lines) / len(lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "machine": machine(),
        "commit": git_commit(),
        "entry_bytes": round(size),
        "genesis_bytes": len(line),
        "verify_entries": report.entries,
        "verify_per_s": round(verify),
        "raw_chain_per_s": round(raw_chain),
        "raw_fsync_per_s": round(raw, 1),
        "append_1_per_s": round(one, 1),
        "append_4_per_s": round(four, 1),
        "append_many_per_s": round(bulk),
        "ratio_append_1": round(one / raw, 3),
        "ratio_append_4": round(four / raw, 3),
        "ratio_verify": round(verify / raw_chain, 3),
    }
    print(json.dumps(result, indent=2))
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
