"""The audit log in PostgreSQL: the same lines, the same chain, the same checks.

Two tables: ``<table>`` (``seq`` bigint primary key, ``line`` text: the exact entry line) and
``<table>_checkpoints``. Appenders serialise on a transaction-scoped advisory lock, read the
head, insert and commit: an entry is durable when ``append`` returns (PostgreSQL's commit).

:func:`install` (``governance audit init-db``, run once by an administrator) creates the tables
with triggers that refuse UPDATE, DELETE and TRUNCATE, and grants the application's role only
SELECT and INSERT: for that role the log is append-only. Rows edited by someone with more
rights still fail ``verify``, which hashes the stored lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from governance.audit import GENESIS, AuditBackend, Checkpoint, Head
from governance.exceptions import AuditError

# Table and role names go into SQL text (identifiers cannot be bound): only these are allowed.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


def _head_of(line: str) -> Head:
    comma = line.find(",", 7)
    return Head(int(line[7:comma]), line[-66:-2])


class PostgresAuditBackend(AuditBackend):
    def __init__(self, url: str, *, table: str = "governance_audit") -> None:
        if not _IDENTIFIER.match(table):
            raise AuditError(f"invalid audit table name {table!r}")
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.table = table
        self._shown = make_url(url).render_as_string(hide_password=True)
        self._engine = create_engine(url, pool_pre_ping=True)
        self._lock_key = _lock_key(table)
        self._ready = False

    def describe(self) -> str:
        return f"{self._shown} (table {self.table})"

    def _run(self, work: Callable[[Any], Any]) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.begin() as conn:
                if not self._ready:
                    _create(conn, self.table)
                    self._ready = True
                return work(conn)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise AuditError(f"the audit log at {self.describe()} failed: {reason}") from None

    def append(self, build: Callable[[Head], list[bytes]]) -> tuple[Head, int]:
        from sqlalchemy import text

        def work(conn: Any) -> Head:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key})
            last = conn.execute(
                text(f"SELECT line FROM {self.table} ORDER BY seq DESC LIMIT 1")
            ).scalar()
            head = _head_of(last) if last else Head(0, GENESIS)
            lines = [line.decode().removesuffix("\n") for line in build(head)]
            rows = [{"seq": _head_of(line).seq, "line": line} for line in lines]
            conn.execute(text(f"INSERT INTO {self.table} (seq, line) VALUES (:seq, :line)"), rows)
            return _head_of(lines[-1])

        return self._run(work), 0

    def head(self) -> Head:
        from sqlalchemy import text

        last = self._run(
            lambda conn: conn.execute(
                text(f"SELECT line FROM {self.table} ORDER BY seq DESC LIMIT 1")
            ).scalar()
        )
        return _head_of(last) if last else Head(0, GENESIS)

    def lines(self) -> Iterator[bytes]:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.connect() as conn:
                if not self._ready:
                    _create(conn, self.table)
                    conn.commit()
                    self._ready = True
                result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
                    text(f"SELECT line FROM {self.table} ORDER BY seq")
                )
                for (line,) in result:
                    yield line.encode() + b"\n"
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise AuditError(f"the audit log at {self.describe()} failed: {reason}") from None

    def torn_tail(self) -> int:
        return 0  # a transaction is whole or absent

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        from sqlalchemy import text

        self._run(
            lambda conn: conn.execute(
                text(f"INSERT INTO {self.table}_checkpoints (line) VALUES (:line)"),
                {"line": checkpoint.to_json()},
            )
        )

    def checkpoints(self) -> list[Checkpoint]:
        from sqlalchemy import text

        rows = self._run(
            lambda conn: conn.execute(
                text(f"SELECT line FROM {self.table}_checkpoints ORDER BY id")
            ).all()
        )
        return [Checkpoint.from_json(row[0]) for row in rows]

    def dispose(self) -> None:
        self._engine.dispose()


def _lock_key(table: str) -> int:
    """The advisory lock appenders (and table creators) of ``table`` serialise on."""
    return int.from_bytes(hashlib.sha256(table.encode()).digest()[:8], "big", signed=True)


def _create(conn: Any, table: str) -> None:
    """Create the tables if they are missing (needs CREATE; see :func:`install`).

    Processes that start together on an empty database would all find the tables missing and
    race to create them (and their triggers). So each first takes the appenders' advisory lock,
    which a creator holds until it commits, and only then looks: a look before the lock would
    leave this transaction with a catalog snapshot from before the other's commit. Once per
    process, and appending takes the same lock anyway."""
    from sqlalchemy import text

    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(table)})
    if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None:
        return
    conn.execute(
        text(f"CREATE TABLE IF NOT EXISTS {table} (seq bigint PRIMARY KEY, line text NOT NULL)")
    )
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {table}_checkpoints "
            "(id bigserial PRIMARY KEY, line text NOT NULL)"
        )
    )
    conn.execute(
        text(
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
    )
    for target in (table, f"{table}_checkpoints"):
        conn.execute(
            text(
                f"CREATE TRIGGER {target}_no_change BEFORE UPDATE OR DELETE ON {target} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER {target}_no_truncate BEFORE TRUNCATE ON {target} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
            )
        )


def install(admin_url: str, *, app_role: str, table: str = "governance_audit") -> None:
    """Create the audit tables (as an administrator) and make them append-only for
    ``app_role``: SELECT and INSERT, nothing else."""
    if not _IDENTIFIER.match(app_role) or not _IDENTIFIER.match(table):
        raise AuditError("role and table names must be lower-case identifiers")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(admin_url)
    try:
        with engine.begin() as conn:
            _create(conn, table)
            for target in (table, f"{table}_checkpoints"):
                conn.execute(text(f"REVOKE ALL ON {target} FROM PUBLIC, {app_role}"))
                conn.execute(text(f"GRANT SELECT, INSERT ON {target} TO {app_role}"))
            conn.execute(text(f"GRANT USAGE ON SEQUENCE {table}_checkpoints_id_seq TO {app_role}"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise AuditError(f"could not install the audit tables: {reason}") from None
    finally:
        engine.dispose()
