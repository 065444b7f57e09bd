from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from automl.config import CsvSource, DemoSource, ParquetSource, SqlSource
from automl.data import content_hash, describe_source, load_demo, load_source
from automl.exceptions import SourceError
from tests.conftest import PG_URL


def assert_same_table(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal values and equal gaps (readers differ in None versus NaN for missing text)."""
    assert_frame_equal(left.isna(), right.isna())
    filled_left = left.astype(object).where(left.notna(), None)
    assert_frame_equal(filled_left, right.astype(object).where(right.notna(), None))


def test_demo_data_is_the_credit_dataset(credit: pd.DataFrame) -> None:
    assert credit.shape == (4454, 14)
    assert credit["Status"].value_counts().to_dict() == {"good": 3200, "bad": 1254}
    assert int(credit["Income"].isna().sum()) == 381


def test_demo_ships_with_its_attribution() -> None:
    from importlib import resources

    readme = (resources.files("automl.data") / "demo" / "README.md").read_text()
    assert "modeldata" in readme
    assert "MIT" in readme
    assert "Belanche" in readme


def test_csv_and_parquet_sources_read_the_same_table(tmp_path: Path, credit: pd.DataFrame) -> None:
    csv_path, pq_path = tmp_path / "c.csv", tmp_path / "c.parquet"
    credit.to_csv(csv_path, index=False)
    credit.to_parquet(pq_path, index=False)
    from_csv = load_source(CsvSource(type="csv", path=str(csv_path)))
    from_parquet = load_source(ParquetSource(type="parquet", path=str(pq_path)))
    assert_same_table(from_csv, credit)
    assert_same_table(from_parquet, credit)
    assert content_hash(from_csv) == content_hash(from_parquet)


def test_csv_with_other_delimiter_encoding_and_decimal(tmp_path: Path) -> None:
    path = tmp_path / "euro.csv"
    path.write_bytes("name;amount;y\nJosé;1,5;a\nZoë;2,25;b\n".encode("latin-1"))
    frame = load_source(
        CsvSource(type="csv", path=str(path), delimiter=";", encoding="latin-1", decimal=",")
    )
    assert frame["name"].tolist() == ["José", "Zoë"]
    assert frame["amount"].tolist() == [1.5, 2.25]


def test_gzip_csv_is_decompressed(tmp_path: Path, credit: pd.DataFrame) -> None:
    path = tmp_path / "c.csv.gz"
    with gzip.open(path, "wt") as fh:
        credit.head(50).to_csv(fh, index=False)
    assert len(load_source(CsvSource(type="csv", path=str(path)))) == 50


def test_parquet_column_selection(tmp_path: Path, credit: pd.DataFrame) -> None:
    path = tmp_path / "c.parquet"
    credit.to_parquet(path)
    frame = load_source(ParquetSource(type="parquet", path=str(path), columns=["Status", "Age"]))
    assert list(frame.columns) == ["Status", "Age"]
    with pytest.raises(SourceError, match=r"ingest.source.columns: 'Agee' not in"):
        load_source(ParquetSource(type="parquet", path=str(path), columns=["Agee"]))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        (b"", "is empty (0 bytes)"),
        (b"a,b,c\n", "has a header but no data rows"),
        (b"\n\n\n", "has no columns"),
        (b"PAR1\x00\x01garbage", "looks like a Parquet file"),
        (b"\x00\x01\x02\x03binary", "contains binary (NUL) bytes"),
        (bytes(range(128, 256)) * 4, "is not utf-8 text"),
        (b"a;b;c\n1;2;3\n4;5;6\n", "look delimited by ';'. Set ingest.source.delimiter: ';'"),
        (b"a,a,b\n1,2,3\n", "duplicate column names in its header: 'a'"),
        (b'a,b\n1,"2\n3,4\n', "is not well-formed CSV"),
    ],
    ids=[
        "missing",
        "empty",
        "header-only",
        "blank-lines",
        "parquet-as-csv",
        "binary",
        "bad-encoding",
        "wrong-delimiter",
        "duplicate-header",
        "unclosed-quote",
    ],
)
def test_bad_csv_files_get_a_clear_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as info:
        load_source(CsvSource(type="csv", path=str(path)))
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "Traceback" not in message


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="is not a readable Parquet file.*type: csv"):
        load_source(ParquetSource(type="parquet", path=str(path)))


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a directory"):
        load_source(CsvSource(type="csv", path=str(tmp_path)))


def test_sqlite_source(tmp_path: Path, credit: pd.DataFrame) -> None:
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = create_engine(url)
    credit.to_sql("applications", engine, index=False)
    engine.dispose()
    frame = load_source(SqlSource(type="sql", url=url, query="SELECT * FROM applications"))
    assert_same_table(frame, credit)
    subset = load_source(
        SqlSource(type="sql", url=url, query="SELECT Age, Status FROM applications WHERE Age > 60")
    )
    assert len(subset) == int((credit["Age"] > 60).sum())


def test_sql_errors_are_clear(tmp_path: Path) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(SourceError, match="ingest.source.query failed on sqlite.*no such table"):
        load_source(SqlSource(type="sql", url=url, query="SELECT * FROM nope"))
    with pytest.raises(SourceError, match="not a valid SQLAlchemy URL"):
        load_source(SqlSource(type="sql", url="not a url", query="SELECT 1"))
    with pytest.raises(SourceError, match="no SQLAlchemy dialect for 'nosuchdb'"):
        load_source(SqlSource(type="sql", url="nosuchdb://h/db", query="SELECT 1"))


def test_sql_query_with_no_rows(tmp_path: Path) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "e.db").close()
    url = f"sqlite:///{tmp_path / 'e.db'}"
    with pytest.raises(SourceError, match="returned no rows"):
        load_source(SqlSource(type="sql", url=url, query="SELECT 1 AS a WHERE 1 = 0"))


def test_url_env_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOML_TEST_NO_SUCH_VAR", raising=False)
    source = SqlSource(type="sql", url_env="AUTOML_TEST_NO_SUCH_VAR", query="SELECT 1")
    with pytest.raises(SourceError, match="AUTOML_TEST_NO_SUCH_VAR is not set"):
        load_source(source)


@pytest.mark.postgres
def test_postgres_source(pg_table: str, credit: pd.DataFrame) -> None:
    query = f'SELECT * FROM "{pg_table}" ORDER BY row_id'
    frame = load_source(SqlSource(type="sql", url=PG_URL, query=query)).drop(columns="row_id")
    assert_same_table(frame, credit)
    assert content_hash(frame) == content_hash(credit)


@pytest.mark.postgres
def test_postgres_errors_never_show_the_password(
    pg_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trust auth ignores the password, so the query reaches the server and fails there.
    url = PG_URL.replace("postgres@", "postgres:s3cr3t-pw@")
    monkeypatch.setenv("AUTOML_TEST_DB_URL", url)
    source = SqlSource(type="sql", url_env="AUTOML_TEST_DB_URL", query="SELECT nope FROM x_y_z")
    with pytest.raises(SourceError) as info:
        load_source(source)
    message = str(info.value)
    assert "x_y_z" in message
    assert "s3cr3t-pw" not in message
    assert "***" in message
    described = describe_source(source)
    assert "s3cr3t-pw" not in str(described)


@pytest.mark.postgres
def test_unreachable_database() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    with pytest.raises(SourceError, match="failed on postgresql.*reachable"):
        load_source(SqlSource(type="sql", url=url, query="SELECT 1"))


def test_describe_source_hashes_files(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n")
    facts = describe_source(CsvSource(type="csv", path=str(path)))
    assert facts["bytes"] == 8
    assert len(facts["sha256"]) == 64
    assert describe_source(DemoSource(type="demo"))["type"] == "demo"


def test_load_demo_unknown_name() -> None:
    with pytest.raises(SourceError, match="unknown demo dataset"):
        load_demo("iris")


def test_trailing_delimiters_do_not_shift_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("y,amount,cat\nyes,0.5,a,\nno,1.5,b,\n")
    frame = load_source(CsvSource(type="csv", path=str(path)))
    assert frame["y"].tolist() == ["yes", "no"]
    assert frame["amount"].tolist() == [0.5, 1.5]


def test_values_are_stripped_of_surrounding_spaces(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("y,x\nyes ,1\n yes,2\nno,3\n")
    assert load_source(CsvSource(type="csv", path=str(path)))["y"].tolist() == ["yes", "yes", "no"]


def test_utf16_text_is_read_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes("y,x\na,1\nb,2\n".encode("utf-16"))
    frame = load_source(CsvSource(type="csv", path=str(path), encoding="utf-16"))
    assert frame.shape == (2, 2)


def test_header_longer_than_the_sample_is_checked_whole(tmp_path: Path) -> None:
    names = [f"feature_with_a_long_name_{i:05d}" for i in range(3000)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(["y", *names]) + "\n" + ",".join(["1"] * 3001) + "\n")
    assert load_source(CsvSource(type="csv", path=str(path))).shape == (1, 3001)


def test_compressed_csv_gets_the_same_checks(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("y;amount\na;1\nb;2\n")
    with pytest.raises(SourceError, match="Set ingest.source.delimiter: ';'"):
        load_source(CsvSource(type="csv", path=str(path)))
    fake = tmp_path / "fake.csv.gz"
    fake.write_text("y,x\n1,2\n")
    with pytest.raises(SourceError, match="cannot be decompressed"):
        load_source(CsvSource(type="csv", path=str(fake)))
    import zipfile

    archive = tmp_path / "two.csv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", "y,x\n1,2\n")
        zf.writestr("b.csv", "y,x\n1,2\n")
    with pytest.raises(SourceError, match="holds 2 files"):
        load_source(CsvSource(type="csv", path=str(archive)))


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nosuch.db"
    with pytest.raises(SourceError, match="SQLite database .* does not exist"):
        load_source(SqlSource(type="sql", url=f"sqlite:///{path}", query="SELECT 1"))
    assert not path.exists()


@pytest.mark.parametrize("query", ["DELETE FROM t", "DROP TABLE t", "  update t set a = 1"])
def test_only_read_only_queries_run(tmp_path: Path, query: str) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "r.db").close()
    with pytest.raises(SourceError, match="must be a read-only query"):
        load_source(SqlSource(type="sql", url=f"sqlite:///{tmp_path / 'r.db'}", query=query))


def test_secrets_in_url_query_parameters_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test?password=Hunter2Secret"
    monkeypatch.setenv("AUTOML_TEST_URL_Q", url)
    source = SqlSource(type="sql", url_env="AUTOML_TEST_URL_Q", query="SELECT 1")
    assert "Hunter2Secret" not in str(describe_source(source))
    with pytest.raises(SourceError) as info:
        load_source(source)
    assert "Hunter2Secret" not in str(info.value)
