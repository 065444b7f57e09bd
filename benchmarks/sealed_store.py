"""Sealing and unsealing speed and peak memory of the sealed store, against the bare work.

    python benchmarks/sealed_store.py --sizes-gib 1 4 --out benchmarks/sealed_store.json

Bare work, measured in the same run over the same bytes with preallocated buffers: sealing
must encrypt (AES-256-GCM) and hash (SHA-256, the store records the plaintext's hash); opening
must decrypt (the AEAD authenticates; the hash is checked by `verify`, not by every read).
A second unsealing reference adds reading the ciphertext from a file, one thread.
Target: ours at no less than 0.8 x the bare work's throughput, and peak memory (RSS growth of
a fresh process doing only that operation, sampled every 5 ms) under 64 MiB for 1 and 4 GiB.
The store lives in /dev/shm so the disk does not set the pace; opening still has to copy the
ciphertext out of the page cache, which the in-memory bare figure does not include. The store
opens with two threads (positional reads and AES-GCM both release the GIL); the references
run on one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, machine

MIB = 1 << 20


class Pattern:
    """A readable stream of ``size`` bytes repeating one random MiB (no disk, no big buffer)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(MIB)

    def readinto(self, view: memoryview) -> int:
        n = min(len(view), self.left)
        done = 0
        while done < n:
            step = min(n - done, MIB)
            view[done : done + step] = self.block[:step]
            done += step
        self.left -= n
        return n


class Discard:
    def write(self, data: object) -> int:
        return len(data)  # type: ignore[arg-type]


def bare(size: int) -> dict[str, float]:
    """AES-256-GCM (and SHA-256 when sealing) over ``size`` distinct bytes in memory, 1 MiB at
    a time into preallocated buffers: the floor no store can go below. The bytes are really
    ``size`` bytes (not one MiB reused), so memory bandwidth counts as it does for the store."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    rounds = size // MIB
    plain = memoryview(bytearray(size))
    block = os.urandom(MIB)
    for i in range(rounds):
        plain[i * MIB : (i + 1) * MIB] = block
    sealed = memoryview(bytearray(rounds * (MIB + 16)))
    opened = memoryview(bytearray(MIB))
    digest = hashlib.sha256()
    start = time.perf_counter()
    for i in range(rounds):
        chunk = plain[i * MIB : (i + 1) * MIB]
        aead.encrypt_into(nonce, chunk, None, sealed[i * (MIB + 16) : (i + 1) * (MIB + 16)])
        digest.update(chunk)
    seal = time.perf_counter() - start
    del plain
    start = time.perf_counter()
    for i in range(rounds):
        aead.decrypt_into(nonce, sealed[i * (MIB + 16) : (i + 1) * (MIB + 16)], None, opened)
    unseal = time.perf_counter() - start
    # The same, reading the ciphertext from a file (page cache): the copy out of the kernel
    # that any reader of a stored object pays, and that the in-memory figure leaves out.
    with tempfile.NamedTemporaryFile(dir="/dev/shm") as fh:
        fh.write(sealed)
        fh.flush()
        incoming = memoryview(bytearray(MIB + 16))
        start = time.perf_counter()
        for i in range(rounds):
            os.preadv(fh.fileno(), [incoming], i * (MIB + 16))
            aead.decrypt_into(nonce, incoming, None, opened)
        unseal_read = time.perf_counter() - start
    return {
        "seal_gbps": size / seal / 1e9,
        "unseal_gbps": size / unseal / 1e9,
        "unseal_read_gbps": size / unseal_read / 1e9,
    }


def child(operation: str, root: str, size: int) -> None:
    """One operation in a fresh process; prints throughput and peak RSS growth."""
    from governance.keys import LocalKeyring
    from governance.store import SealedStore

    store = SealedStore(Path(root) / "store", LocalKeyring(Path(root) / "keys"))
    base = _rss_kib()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:  # ru_maxrss would include the import peak: sample the RSS instead
        while not stop.wait(0.005):
            peak[0] = max(peak[0], _rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    if operation == "seal":
        store.put(f"obj-{size}", Pattern(size))  # type: ignore[arg-type]
    else:
        sink = Discard()
        for segment in store.open(f"obj-{size}"):
            sink.write(segment)
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    growth = max(peak[0], _rss_kib()) - base
    print(json.dumps({"gbps": size / elapsed / 1e9, "peak_mib": growth / 1024}))


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes-gib", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/sealed_store.json"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    rows = []
    with tempfile.TemporaryDirectory(dir="/dev/shm") as root:
        from governance.keys import LocalKeyring

        LocalKeyring(Path(root) / "keys").init()
        for gib in args.sizes_gib:
            size = int(gib * (1 << 30))
            reference = bare(size)
            row: dict[str, float] = {
                "gib": gib,
                **{f"bare_{k}": round(v, 3) for k, v in reference.items()},
            }
            for operation in ("seal", "unseal"):
                done = subprocess.run(
                    [sys.executable, __file__, "--child", operation, root, str(size)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                row[f"{operation}_gbps"] = round(measured["gbps"], 3)
                row[f"{operation}_ratio"] = round(
                    measured["gbps"] / reference[f"{operation}_gbps"], 3
                )
                row[f"{operation}_peak_mib"] = round(measured["peak_mib"], 1)
                if operation == "unseal":
                    row["unseal_ratio_to_read"] = round(
                        measured["gbps"] / reference["unseal_read_gbps"], 3
                    )
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"machine": machine(), "commit": git_commit(), "rows": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
