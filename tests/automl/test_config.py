from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from automl.config import CsvSource, Params, load_params, parse_params
from automl.exceptions import ConfigError
from tests.conftest import REPO_ROOT, base_params


def error_of(raw: object) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    return str(info.value)


def test_the_repository_params_yaml_is_valid() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.data.target == "Status"
    assert params.ingest.source.type == "demo"
    assert 0 < params.split.test_size < 1


def test_sections_other_than_data_and_ingest_have_defaults() -> None:
    params = parse_params({"data": {"target": "y"}, "ingest": {"source": {"type": "demo"}}})
    assert params.split.test_size == 0.2
    assert params.split.cv_folds == 5
    assert params.prepare.drop_columns == []


def test_out_of_range_value_names_key_value_and_range() -> None:
    message = error_of(base_params(split={"test_size": 1.5}))
    assert "params.yaml: split.test_size = 1.5: must be between 0 and 1" in message


def test_unknown_key_is_named_with_a_suggestion() -> None:
    message = error_of(base_params(split={"test_sise": 0.3}))
    assert "split.test_sise: unknown key; did you mean 'test_size'?" in message
    assert "Allowed keys here: test_size" in message


def test_unknown_top_level_section_is_refused() -> None:
    raw = base_params()
    raw["spilt"] = {"test_size": 0.2}
    assert "spilt: unknown key; did you mean 'split'?" in error_of(raw)
    raw = base_params(split={"shuffle": True})
    assert "split.shuffle: unknown key. Allowed keys here:" in error_of(raw)


def test_wrong_types_are_refused_not_coerced() -> None:
    message = error_of(base_params(split={"test_size": "0.3", "stratify": "yes", "cv_folds": 2.5}))
    assert 'split.test_size = "0.3": must be a number, not a string' in message
    assert 'split.stratify = "yes": must be true or false' in message
    assert "split.cv_folds = 2.5: must be a whole number, not a decimal number" in message


def test_every_error_is_reported_at_once() -> None:
    message = error_of(base_params(split={"test_size": 0, "seed": -1}, data={"task": "x"}))
    assert message.count("params.yaml:") == 3


def test_source_type_errors_name_the_allowed_types() -> None:
    message = error_of(base_params(ingest={"source": {"type": "excel", "path": "a.xlsx"}}))
    assert "ingest.source.type = \"excel\": must be one of 'demo', 'csv', 'parquet', 'sql'" in (
        message
    )
    message = error_of(base_params(ingest={"source": {"path": "a.csv"}}))
    assert "ingest.source.type: is required" in message


def test_fields_inside_a_source_show_without_the_union_tag() -> None:
    message = error_of(
        base_params(ingest={"source": {"type": "csv", "path": "a", "delimeter": ";"}})
    )
    assert "ingest.source.delimeter: unknown key; did you mean 'delimiter'?" in message
    assert "ingest.source.csv" not in message


def test_missing_required_key() -> None:
    raw = base_params()
    raw["data"] = {"task": "auto"}
    assert "data.target: is required but missing" in error_of(raw)


def test_sql_url_with_password_is_refused_and_not_echoed() -> None:
    url = "postgresql://alice:hunter2@db.example/prod"
    message = error_of(base_params(ingest={"source": {"type": "sql", "url": url, "query": "x"}}))
    assert "url contains a password" in message
    assert "url_env" in message
    assert "hunter2" not in message


def test_search_storage_with_password_is_refused_and_not_echoed() -> None:
    url = "postgresql+psycopg://optuna:hunter2@db.example/optuna"
    message = error_of(base_params(search={"storage": url}))
    assert "storage contains a password" in message and "PGPASSWORD" in message
    assert "hunter2" not in message
    assert parse_params(base_params(search={"storage": "postgresql://optuna@db/o"}))


def test_a_shared_search_needs_a_database_server_and_sane_heartbeats() -> None:
    assert "shared: true needs a database server" in error_of(
        base_params(search={"shared": True, "storage": "sqlite:///optuna.db"})
    )
    message = error_of(base_params(search={"heartbeat_interval_s": 10, "heartbeat_grace_s": 15}))
    assert "heartbeat_grace_s = 15 must be at least twice heartbeat_interval_s = 10" in message
    shared = {"shared": True, "storage": "postgresql+psycopg://optuna@db/optuna"}
    assert parse_params(base_params(search=shared)).search.shared


def test_sql_needs_exactly_one_of_url_and_url_env() -> None:
    source = {"type": "sql", "query": "select 1", "url": "sqlite://", "url_env": "DB"}
    assert "set exactly one of url" in error_of(base_params(ingest={"source": source}))


def test_not_a_mapping() -> None:
    assert "must be a mapping of sections" in error_of([1, 2])
    assert "it is empty" in error_of(None)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  target: Status\n ingest: [\n")
    with pytest.raises(ConfigError) as info:
        load_params(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line ")
    assert "invalid YAML" in message


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  target: a\n  target: b\ningest:\n  source: {type: demo}\n")
    with pytest.raises(ConfigError, match=r"line 3.*duplicate key 'target' \(first defined on"):
        load_params(path)


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def test_csv_source_defaults() -> None:
    source = CsvSource(type="csv", path="a.csv")
    assert source.delimiter == ","
    assert source.encoding == "utf-8"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_test_size_accepted_exactly_inside_the_open_interval(value: float) -> None:
    raw = base_params(split={"test_size": value})
    if 0 < value < 1:
        assert parse_params(raw).split.test_size == value
    else:
        with pytest.raises(ConfigError, match=r"split\.test_size = .*: must be between 0 and 1"):
            parse_params(raw)


def test_params_round_trip_through_yaml() -> None:
    params = parse_params(base_params(prepare={"drop_columns": ["a", "b"]}))
    again = parse_params(yaml.safe_load(yaml.safe_dump(params.model_dump())))
    assert again == params
    assert isinstance(again, Params)


def test_every_params_key_is_documented() -> None:
    from automl.config import (
        CsvSource,
        DataParams,
        DemoSource,
        EvaluateParams,
        GateParams,
        GovernanceParams,
        GroupParams,
        IngestParams,
        ModelCardParams,
        MonitorParams,
        ParquetSource,
        PrepareParams,
        SearchParams,
        SplitParams,
        SqlSource,
        TrackingParams,
        TrainParams,
    )

    reference = (REPO_ROOT / "docs" / "configuration.md").read_text()
    models = [DataParams, IngestParams, PrepareParams, SplitParams, SearchParams, TrainParams]
    models += [TrackingParams, GovernanceParams, MonitorParams, EvaluateParams, GateParams]
    models += [ModelCardParams, GroupParams]
    models += [DemoSource, CsvSource, ParquetSource, SqlSource]
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models
        for name in model.model_fields
        if name not in ("type", "source") and f"| `{name}` |" not in reference
    ]
    assert not undocumented


def test_yes_and_no_are_strings_as_in_yaml_1_2(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data: {target: y}\ningest: {source: {type: demo}}\nsplit: {stratify: yes}\n")
    with pytest.raises(ConfigError, match='split.stratify = "yes": must be true or false'):
        load_params(path)
    path.write_text("data: {target: y}\ningest: {source: {type: demo}}\nsplit: {stratify: False}\n")
    assert load_params(path).split.stratify is False


def test_a_section_with_every_key_commented_out_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data: {target: y}\ningest: {source: {type: demo}}\nprepare:\n  # none\n")
    assert load_params(path).prepare.max_classes == 20


def test_seed_range() -> None:
    assert "split.seed = 4294967296: must be between 0 and 4294967295" in error_of(
        base_params(split={"seed": 2**32})
    )


def test_secret_in_url_query_is_refused() -> None:
    source = {"type": "sql", "url": "postgresql://u@h/db?password=s3cret", "query": "SELECT 1"}
    message = error_of(base_params(ingest={"source": source}))
    assert "contains a password or another secret" in message
    assert "s3cret" not in message
