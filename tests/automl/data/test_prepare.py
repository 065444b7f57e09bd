from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.config import DataParams, PrepareParams, SplitParams
from automl.data import prepare_dataset
from automl.data.prepare import PreparedData
from automl.exceptions import DataError


def run(frame: pd.DataFrame, target: str = "Status", **options: Any) -> PreparedData:
    return prepare_dataset(
        frame,
        data=DataParams(target=target, task=options.pop("task", "auto")),
        prepare=PrepareParams(**options.pop("prepare", {})),
        split=SplitParams(**options.pop("split", {})),
    )


def test_demo_data_prepares_cleanly(credit: pd.DataFrame) -> None:
    result = run(credit)
    report = result.report
    assert result.task == "binary"
    assert report["rows"] == {
        "input": 4454,
        "dropped_missing_target": 0,
        "train": 3563,
        "test": 891,
    }
    assert report["classes"] == ["bad", "good"]
    assert report["leakage"] == []
    assert report["dropped_columns"] == []
    assert len(report["features"]) == 13
    assert set(result.train.columns) == set(credit.columns)


def test_constant_target_is_refused() -> None:
    frame = pd.DataFrame({"x": range(30), "y": ["same"] * 30})
    with pytest.raises(DataError, match="data.target = 'y' is constant"):
        run(frame, target="y")


def test_missing_target_column_suggests_the_closest(credit: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"data.target = 'status': no such column.*'Status'"):
        run(credit, target="status")


def test_rows_without_a_label_are_dropped_with_a_warning(credit: pd.DataFrame) -> None:
    frame = credit.copy()
    frame.loc[:9, "Status"] = None
    report = run(frame).report
    assert report["rows"]["dropped_missing_target"] == 10
    assert any("10 rows whose target" in w for w in report["warnings"])


def test_useless_and_listed_columns_are_dropped(credit: pd.DataFrame) -> None:
    frame = credit.assign(empty=np.nan, same="x")
    result = run(frame, prepare={"drop_columns": ["Price"]})
    dropped = {d["column"]: d["reason"] for d in result.report["dropped_columns"]}
    assert dropped == {
        "Price": "listed in prepare.drop_columns",
        "empty": "all values missing",
        "same": "constant (one value in every row)",
    }
    assert not {"Price", "empty", "same"} & set(result.train.columns)


def test_keeping_useless_columns_is_possible(credit: pd.DataFrame) -> None:
    result = run(credit.assign(same="x"), prepare={"drop_constant_columns": False})
    assert "same" in result.train.columns
    assert any("kept as set" in w for w in result.report["warnings"])


def test_unknown_drop_column(credit: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="prepare.drop_columns = 'Prise'.*'Price'"):
        run(credit, prepare={"drop_columns": ["Prise"]})


def test_identifiers_duplicates_and_leakage_are_reported(credit: pd.DataFrame) -> None:
    frame = credit.assign(
        application_id=np.arange(len(credit)) + 5000,
        outcome_code=np.where(credit["Status"] == "bad", "D", "P"),
    )
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    report = run(frame).report
    assert [c["column"] for c in report["id_like_columns"]] == ["application_id"]
    assert report["duplicates"]["rows"] == 5
    assert [c["column"] for c in report["leakage"]] == ["outcome_code"]
    assert report["leakage"][0]["score"] > 0.99
    assert any("probable leakage" in w for w in report["warnings"])


def test_leakage_can_fail_the_stage(credit: pd.DataFrame) -> None:
    frame = credit.assign(outcome_code=np.where(credit["Status"] == "bad", "D", "P"))
    with pytest.raises(DataError, match="'outcome_code' alone predicts.*fail_on_leakage"):
        run(frame, prepare={"fail_on_leakage": True})


def test_each_class_needs_enough_rows_for_the_folds() -> None:
    rng = np.random.default_rng(0)
    y = ["a"] * 100 + ["b"] * 100 + ["rare"] * 5
    frame = pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})
    with pytest.raises(DataError, match=r"class 'rare' \(4 rows\) for split.cv_folds = 5"):
        run(frame, target="y")
    assert run(frame, target="y", split={"cv_folds": 3}).task == "multiclass"


def test_a_class_with_one_row_cannot_be_split() -> None:
    frame = pd.DataFrame({"x": range(41), "y": ["a"] * 20 + ["b"] * 20 + ["c"]})
    with pytest.raises(DataError, match="classes with a single row cannot be split: 'c'"):
        run(frame, target="y")


def test_task_override_from_params() -> None:
    frame = pd.DataFrame({"x": np.arange(200) % 7, "y": np.arange(200) % 4})
    assert run(frame, target="y").task == "multiclass"
    regression = run(frame, target="y", task="regression")
    assert regression.task == "regression"
    assert regression.report["task_source"] == "params"
    assert "classes" not in regression.report


def test_time_split_from_params() -> None:
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=300, freq="D")[::-1],
            "x": np.arange(300),
            "y": [0, 1, 1] * 100,
        }
    )
    result = run(frame, target="y", split={"time_column": "day", "test_size": 0.1})
    assert result.report["split"]["method"] == "time"
    assert result.train["day"].max() < result.test["day"].min()
    assert "day" not in [f["name"] for f in result.report["features"]]


def test_unused_categories_of_a_categorical_target_are_not_classes(credit: pd.DataFrame) -> None:
    frame = credit.assign(
        Status=pd.Categorical(credit["Status"], categories=["good", "bad", "unused"])
    )
    result = run(frame)
    assert result.report["classes"] == ["bad", "good"]


def test_infinite_values_do_not_break_the_checks(credit: pd.DataFrame) -> None:
    frame = credit.assign(Debt=credit["Debt"].astype(float))
    frame.loc[::4, "Debt"] = np.inf
    frame.loc[::5, "Assets"] = 1e39
    report = run(frame).report
    assert "Debt" in report["single_feature_scores"]["scores"]
