"""The ``automl stage`` commands as dvc.yaml runs them: outputs, exit codes, messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from automl.data import content_hash
from governance.keys import LocalKeyring
from governance.sealed import SealedFiles, Sealer, is_sealed
from tests.conftest import TEST_KEYRING, CliResult, read_dataset

Run = Callable[..., CliResult]


def ingest_args(tmp_path: Path, params: Path) -> list[str | Path]:
    return [
        "stage", "ingest", "--params", params,
        "--out", tmp_path / "out" / "dataset.parquet",
        "--profile", tmp_path / "out" / "profile.json",
    ]  # fmt: skip


def prepare_args(tmp_path: Path, params: Path, data: Path) -> list[str | Path]:
    return [
        "stage", "prepare", "--params", params, "--data", data,
        "--train", tmp_path / "prep" / "train.parquet",
        "--test", tmp_path / "prep" / "test.parquet",
        "--report", tmp_path / "prep" / "checks.json",
    ]  # fmt: skip


def assert_clean_failure(result: CliResult, code: int, *fragments: str) -> None:
    assert result.code == code, result.err
    message = " ".join(result.err.split())
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in result.err
    assert "\n\n" not in result.err.strip(), "the message should be one paragraph"


def test_ingest_then_prepare(tmp_path: Path, write_params: Any, run_cli: Run) -> None:
    params = write_params()
    result = run_cli("automl", *ingest_args(tmp_path, params))
    assert result.code == 0, result.err
    data = tmp_path / "out" / "dataset.parquet"
    profile = json.loads((tmp_path / "out" / "profile.json").read_text())
    assert is_sealed(data)
    frame = read_dataset(data)
    assert profile["row_count"] == len(frame) == 4454
    assert profile["content_hash"] == content_hash(frame)
    assert profile["source"]["type"] == "demo"
    assert "4454" in result.out

    result = run_cli("automl", *prepare_args(tmp_path, params, data))
    assert result.code == 0, result.err
    train = read_dataset(tmp_path / "prep" / "train.parquet")
    test = read_dataset(tmp_path / "prep" / "test.parquet")
    report = json.loads((tmp_path / "prep" / "checks.json").read_text())
    assert len(train) + len(test) == 4454
    assert report["task"] == "binary"
    assert report["rows"]["test"] == len(test)
    assert "binary task" in result.out
    # Outputs are ordinary files: no temporary files are left beside them.
    assert sorted(p.name for p in (tmp_path / "prep").iterdir()) == [
        "checks.json", "test.parquet", "train.parquet"
    ]  # fmt: skip
    assert oct((tmp_path / "prep" / "checks.json").stat().st_mode & 0o777) != oct(0o600)


def test_datasets_are_sealed_unless_turned_off(
    tmp_path: Path, write_params: Any, run_cli: Run, credit: pd.DataFrame
) -> None:
    sealed = tmp_path / "out" / "dataset.parquet"
    assert run_cli("automl", *ingest_args(tmp_path, write_params())).code == 0
    raw = sealed.read_bytes()
    assert b"PAR1" not in raw[:4]  # no Parquet in the clear
    assert str(credit["Income"].iloc[0]).encode() + b"," not in raw
    info = SealedFiles(Sealer(LocalKeyring(TEST_KEYRING))).stat(sealed)
    assert info.object_id.startswith("dataset-")
    assert info.name.endswith("dataset.parquet")

    params = write_params(governance={"seal_datasets": False})
    assert run_cli("automl", *ingest_args(tmp_path, params)).code == 0
    assert not is_sealed(sealed)
    assert len(pd.read_parquet(sealed)) == len(credit)


def test_a_tampered_or_unkeyed_sealed_input_fails_cleanly(
    tmp_path: Path, write_params: Any, run_cli: Run
) -> None:
    params = write_params()
    data = tmp_path / "out" / "dataset.parquet"
    assert run_cli("automl", *ingest_args(tmp_path, params)).code == 0
    raw = bytearray(data.read_bytes())
    raw[5000] ^= 0x01
    data.write_bytes(bytes(raw))
    result = run_cli("automl", *prepare_args(tmp_path, params, data))
    assert_clean_failure(result, 4, str(data), "failed authentication", "dvc repro --force ingest")
    assert not (tmp_path / "prep").exists()

    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"Status": ["good", "bad"] * 50, "Age": range(100)}).to_parquet(plain)
    plain.replace(data)  # a plain file where a sealed one belongs
    result = run_cli("automl", *prepare_args(tmp_path, params, data))
    assert_clean_failure(result, 4, str(data), "is not sealed", "replaced by a plain file")

    assert run_cli("automl", *ingest_args(tmp_path, params)).code == 0
    other = write_params(governance={"keyring": str(tmp_path / "other-keys")})
    result = run_cli("automl", *prepare_args(tmp_path, other, data))
    assert_clean_failure(result, 5, str(data), "no data key", "governance.keyring")


def _csv_params(write_params: Any, path: Path, **source: Any) -> Path:
    return write_params(ingest={"source": {"type": "csv", "path": str(path), **source}})  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("content", "source", "fragments"),
    [
        (None, {}, ["ingest.source.path: file not found"]),
        (b"", {}, ["is empty (0 bytes)"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", {}, ["is not a CSV text file", "PNG"]),
        (
            b"Status;Age\ngood;30\nbad;40\n",
            {},
            ["single column", "Set ingest.source.delimiter: ';'"],
        ),
        (b"status,Age\ngood,30\nbad,40\n", {}, ["data.target = 'Status': no such column"]),
    ],
    ids=["missing-file", "empty-file", "binary-file", "wrong-delimiter", "missing-target"],
)
def test_bad_input_fails_ingest_cleanly(
    tmp_path: Path,
    write_params: Any,
    run_cli: Run,
    content: bytes | None,
    source: dict[str, Any],
    fragments: list[str],
) -> None:
    raw = tmp_path / "raw.csv"
    if content is not None:
        raw.write_bytes(content)
    params = _csv_params(write_params, raw, **source)
    result = run_cli("automl", *ingest_args(tmp_path, params))
    assert_clean_failure(result, 3, *fragments)
    assert not (tmp_path / "out").exists()


def test_sql_error_fails_ingest_cleanly(tmp_path: Path, write_params: Any, run_cli: Run) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "db.sqlite").close()
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    params = write_params(ingest={"source": {"type": "sql", "url": url, "query": "SELECT * FRM t"}})
    result = run_cli("automl", *ingest_args(tmp_path, params))
    assert_clean_failure(result, 3, "ingest.source.query failed", "syntax error")
    assert not (tmp_path / "out").exists()


def test_constant_target_fails_prepare_cleanly(
    tmp_path: Path, write_params: Any, run_cli: Run
) -> None:
    raw = tmp_path / "raw.csv"
    pd.DataFrame({"Status": ["good"] * 50, "Age": range(50)}).to_csv(raw, index=False)
    params = _csv_params(write_params, raw)
    assert run_cli("automl", *ingest_args(tmp_path, params)).code == 0
    result = run_cli("automl", *prepare_args(tmp_path, params, tmp_path / "out/dataset.parquet"))
    assert_clean_failure(result, 3, "data.target = 'Status' is constant")
    assert not (tmp_path / "prep").exists()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("data:\n  target: Status\n  ingest: [1,\n", ["invalid YAML", "line 4"]),
        (
            "data: {target: Status}\ningest: {source: {type: demo}}\nsplit: {test_size: big}\n",
            ['split.test_size = "big": must be a number, not a string'],
        ),
        (
            "data: {target: Status}\ningest: {source: {type: demo}}\nsplit: {test_size: 1.5}\n",
            ["split.test_size = 1.5: must be between 0 and 1"],
        ),
    ],
    ids=["yaml-syntax", "wrong-type", "out-of-range"],
)
def test_malformed_params_fail_cleanly(
    tmp_path: Path, run_cli: Run, text: str, fragments: list[str]
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(text)
    result = run_cli("automl", *ingest_args(tmp_path, params))
    assert_clean_failure(result, 2, str(params), *fragments)
    assert not (tmp_path / "out").exists()


def test_prepare_without_ingest_says_what_to_run(
    tmp_path: Path, write_params: Any, run_cli: Run
) -> None:
    params = write_params()
    result = run_cli("automl", *prepare_args(tmp_path, params, tmp_path / "nope.parquet"))
    assert_clean_failure(result, 3, "written by the 'ingest' stage", "dvc repro")


def test_failed_write_leaves_no_partial_output(tmp_path: Path) -> None:
    from automl.stages._atomic import atomic_outputs

    class WriterError(RuntimeError):
        pass

    def broken_writer(path: Path) -> None:
        path.write_bytes(b"half")
        raise WriterError

    with pytest.raises(WriterError), atomic_outputs() as out:
        out.write_json(tmp_path / "a.json", {"a": 1})
        out.write_with(tmp_path / "b.parquet", broken_writer)
    assert list(tmp_path.iterdir()) == []


def test_console_scripts_are_installed_and_exit_with_codes(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    ok = subprocess.run(["automl", "version"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0
    assert ok.stdout.startswith("automl-governance ")
    gov = subprocess.run(["governance", "version"], capture_output=True, text=True, env=env)
    assert gov.returncode == 0
    bad = subprocess.run(
        ["automl", "stage", "ingest", "--params", str(tmp_path / "missing.yaml"),
         "--out", str(tmp_path / "d.parquet"), "--profile", str(tmp_path / "p.json")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "file not found" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_output_path_that_is_a_directory(
    tmp_path: Path, write_params: Any, run_cli: Run
) -> None:
    (tmp_path / "out" / "profile.json").mkdir(parents=True)
    result = run_cli("automl", *ingest_args(tmp_path, write_params()))
    assert_clean_failure(result, 2, "is a directory; give a file path")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["profile.json"]
