"""Shared fixtures: params files, the demo data, the real PostgreSQL, the CLI in-process."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("AUTOML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

# One keyring and sealed store for the whole session, outside the repository.
_GOVERNED = Path(tempfile.mkdtemp(prefix="automl-tests-governed-"))
atexit.register(shutil.rmtree, _GOVERNED, True)
TEST_KEYRING = _GOVERNED / "keys"
TEST_STORE = _GOVERNED / "store"
TEST_AUDIT = _GOVERNED / "audit"


def base_params(**sections: Any) -> dict[str, Any]:
    """A valid params mapping for the demo data, with ``sections`` merged over it."""
    params: dict[str, Any] = {
        "data": {"target": "Status", "task": "auto"},
        "ingest": {"source": {"type": "demo"}},
        "prepare": {},
        "split": {"test_size": 0.2, "cv_folds": 5, "seed": 42},
        # Enough resamples to check intervals, few enough to keep tests quick.
        "evaluate": {"bootstrap": 200},
        # Tests that track say where; the others leave no mlflow.db behind.
        "tracking": {"enabled": False},
        "governance": {
            "keyring": str(TEST_KEYRING),
            "store": str(TEST_STORE),
            "audit": str(TEST_AUDIT),
        },
    }
    for name, values in sections.items():
        params[name] = {**params.get(name, {}), **values}
    return params


@pytest.fixture(autouse=True)
def _private_audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test appends to an audit log of its own, never to one in the repository."""
    monkeypatch.setenv("GOVERNANCE_AUDIT", str(tmp_path / "audit-log"))
    # mlflow.set_tracking_uri / set_registry_uri export these; an earlier test's server or
    # database must not become this test's default.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


@pytest.fixture
def write_params(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a params.yaml into tmp_path; keyword sections override the demo defaults."""

    def write(**sections: Any) -> Path:
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(base_params(**sections), sort_keys=False))
        return path

    return write


def read_dataset(path: Path, keyring: Path = TEST_KEYRING) -> pd.DataFrame:
    """A dataset a stage wrote, unsealed in memory when it is sealed."""
    import io

    from governance.keys import LocalKeyring
    from governance.sealed import SealedFiles, Sealer, is_sealed

    if not is_sealed(path):
        return pd.read_parquet(path)
    return pd.read_parquet(io.BytesIO(SealedFiles(Sealer(LocalKeyring(keyring))).read(path)))


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    from automl.data import load_demo

    return load_demo()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run a console script's ``main`` in-process with argv; return exit code and output."""

    def run(program: str, *args: str | Path) -> CliResult:
        if program == "automl":
            from automl.cli import main
        else:
            from governance.cli import main
        monkeypatch.setattr(sys, "argv", [program, *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def optuna_schema() -> str:
    """PG_URL, with Optuna's tables created. Test modules run in parallel (pytest-xdist), and
    two processes creating the tables of an empty database at once collide; a PostgreSQL
    advisory lock lets one create them while the other waits."""
    import optuna
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK})
            try:
                optuna.storages.RDBStorage(PG_URL)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK})
    finally:
        engine.dispose()
    return PG_URL


# Any fixed number: the advisory lock the test processes share while creating Optuna's tables.
_SCHEMA_LOCK = 7_423_001


@pytest.fixture
def pg_table(credit: pd.DataFrame) -> Iterator[str]:
    """The demo data in a fresh table of the real PostgreSQL; dropped afterwards."""
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    name = f"credit_{uuid.uuid4().hex[:10]}"
    try:
        credit.to_sql(name, engine, index=True, index_label="row_id")
    except Exception as exc:  # pragma: no cover - environment problem, not a test failure mode
        pytest.fail(
            f"PostgreSQL at {PG_URL} is not usable ({exc}); start it with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
        engine.dispose()
