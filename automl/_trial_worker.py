"""Entry point of a trial worker process: ``python -m automl._trial_worker IN_FD OUT_FD [MB]``.

Started by :mod:`automl.isolation`; runs trials sent over the pipes until the parent goes away.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection


def main(argv: list[str]) -> None:
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
