"""Entry point of a trial worker process: ``python -m automl._trial_worker IN_FD OUT_FD [MB]``.

Started by :mod:`automl.isolation`; runs trials sent over the pipes until the parent goes away.
A worker idle on its pipe sees the parent go at once (end of file); one busy fitting a model
would not until the fit ends, which can be minutes. A parent killed outright (SIGKILL, a lost
host session) has no chance to stop it, and the worker runs in its own session, so the parent's
process group does not reach it either. A watchdog thread ends the worker as soon as its
parent is gone.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from multiprocessing.connection import Connection

# Seconds between looks at the parent.
WATCH_INTERVAL_S = 1.0


def _exit_when_orphaned(parent: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent:
            # Nothing of the trial is worth keeping without the parent; skip the interpreter's
            # clean-up, which could wait on the fit this thread interrupts.
            os._exit(1)


def main(argv: list[str]) -> None:
    parent = os.getppid()
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    receive = Connection(int(argv[0]), writable=False)
    send = Connection(int(argv[1]), readable=False)
    if len(argv) > 2:
        import resource

        # Address space, not resident memory: a trial that asks for more gets a MemoryError.
        limit = int(argv[2]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from automl.isolation import serve

    serve(receive, send)


if __name__ == "__main__":
    main(sys.argv[1:])
