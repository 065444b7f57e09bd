"""The audit log on the real PostgreSQL: same chain and checks, append-only for the app role."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from governance.audit import AuditLog, Event
from governance.audit_pg import PostgresAuditBackend, install
from governance.context import open_governance
from governance.exceptions import AuditError
from governance.keys import LocalKeyring
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def table() -> Iterator[str]:
    name = f"audit_{uuid.uuid4().hex[:10]}"
    yield name
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {name}, {name}_checkpoints"))
        conn.execute(text(f"DROP FUNCTION IF EXISTS {name}_append_only()"))
    engine.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> LocalKeyring:
    ring = LocalKeyring(tmp_path / "keys")
    ring.init()
    return ring


def _log(table: str, keyring: LocalKeyring, url: str = PG_URL) -> AuditLog:
    backend = PostgresAuditBackend(url, table=table)
    return AuditLog(backend, keys=keyring.audit_keys(), checkpoint_every=25)


def _append(url: str, table: str, keys: str, worker: int) -> None:
    log = _log(table, LocalKeyring(keys), url)
    for i in range(40):
        log.append(Event(f"w{worker}", "put", f"w{worker}-{i}", "ok"))


def test_chain_checkpoints_and_concurrent_appenders(table: str, keyring: LocalKeyring) -> None:
    log = _log(table, keyring)
    log.append(Event("alice", "get", "model-1", "ok"))
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_append, args=(PG_URL, table, str(keyring.root), w)) for w in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    kept = log.checkpoint()
    report = log.verify([kept])
    assert report.ok, report.summary()
    assert report.entries == 2 + 4 * 40
    resources = [e.resource for e in log.entries()]
    assert len(set(resources[2:])) == 160
    assert report.checkpoints >= 6  # every 25 entries, plus the one kept


def test_processes_starting_together_create_the_tables_once(
    table: str, keyring: LocalKeyring
) -> None:
    """First use by many writers at once (workers started together on a fresh database)."""
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def first_use(worker: int) -> None:
        log = _log(table, keyring)  # each with its own engine, as separate processes would be
        barrier.wait()
        try:
            for i in range(10):
                log.append(Event(f"w{worker}", "put", f"w{worker}-{i}", "ok"))
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[0]
    log = _log(table, keyring)
    report = log.verify()
    assert report.ok, report.summary()
    written = [e.resource for e in log.entries() if e.resource.startswith("w")]
    assert len(set(written)) == len(written) == 60


def test_rows_edited_in_the_database_are_caught(table: str, keyring: LocalKeyring) -> None:
    log = _log(table, keyring)
    for i in range(10):
        log.append(Event("alice", "get", f"model-{i}", "ok"))
    kept = log.checkpoint()
    engine = create_engine(PG_URL)
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE seq = 4"))
    # Someone with more rights switches the guard off and rewrites history.
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change"))
        conn.execute(
            text(f"UPDATE {table} SET line = replace(line, 'alice', 'eve__') WHERE seq = 6")
        )
    report = log.verify([kept])
    assert not report.ok
    assert report.first_bad_seq == 6
    assert "edited" in report.problem
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE seq >= 6"))
    report = log.verify([kept])
    assert not report.ok
    assert "tail was cut off" in report.problem
    engine.dispose()


def test_the_app_role_may_only_append(table: str, keyring: LocalKeyring) -> None:
    role = f"app_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        install(PG_URL, app_role=role, table=table)
        app_url = PG_URL.replace("postgres@", f"{role}@")
        log = _log(table, keyring, app_url)
        log.append(Event("pipeline", "put", "model-1", "ok"))
        assert log.verify().ok
        app = create_engine(app_url)
        for statement in (
            f"UPDATE {table} SET line = line",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
            f"DROP TABLE {table}",
        ):
            denied = pytest.raises(ProgrammingError, match="permission denied|must be owner")
            with denied, app.begin() as conn:
                conn.execute(text(statement))
        app.dispose()
        log.backend.dispose()  # type: ignore[attr-defined]
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}, {table}_checkpoints"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        engine.dispose()


def test_governed_store_audits_to_postgres(
    table: str, keyring: LocalKeyring, tmp_path: Path
) -> None:
    session = open_governance(keyring=keyring.root, audit=PG_URL, actor="carol")
    session.audit.backend = PostgresAuditBackend(PG_URL, table=table)
    store = session.store(tmp_path / "store")
    store.put("m", b"model")
    assert store.get("m") == b"model"
    session.close()
    entries = list(session.audit.entries())
    assert [(e.actor, e.action) for e in entries[1:]] == [("carol", "put"), ("carol", "get")]
    assert session.audit.verify().ok


def test_an_unreachable_database_fails_closed(keyring: LocalKeyring, tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    session = open_governance(keyring=keyring.root, audit=url)
    store = session.store(tmp_path / "store")
    with pytest.raises(AuditError, match="failed") as info:
        store.put("m", b"model")
    assert "127.0.0.1" in str(info.value)
    assert store.ids() == []
