from __future__ import annotations

import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

from automl.data import content_hash, profile_dataset


def test_profile_of_the_demo_data(credit: pd.DataFrame) -> None:
    profile = profile_dataset(credit, target="Status")
    assert profile["row_count"] == 4454
    assert profile["column_count"] == 14
    assert profile["target"]["distribution"] == {"good": 3200, "bad": 1254}
    by_name = {c["name"]: c for c in profile["columns"]}
    assert set(by_name) == set(credit.columns) - {"Status"}
    assert by_name["Income"]["missing"] == 381
    assert by_name["Income"]["kind"] == "numeric"
    assert by_name["Marital"]["kind"] == "categorical"
    assert by_name["Marital"]["unique"] == credit["Marital"].nunique()
    assert sum(by_name["Marital"]["levels"].values()) == credit["Marital"].notna().sum()
    assert by_name["Age"]["min"] == credit["Age"].min()
    assert profile["content_hash"] == content_hash(credit)


def test_high_cardinality_text_values_are_not_copied_into_the_profile() -> None:
    names = [f"person-{i}" for i in range(100)]
    frame = pd.DataFrame({"name": names, "y": [0, 1] * 50})
    profile = profile_dataset(frame, target="y")
    assert "levels" not in profile["columns"][0]
    assert "person-7" not in str(profile)


def test_regression_target_gets_quantiles() -> None:
    frame = pd.DataFrame({"x": range(200), "y": np.linspace(0, 1, 200)})
    target = profile_dataset(frame, target="y")["target"]
    assert target["quantiles"]["0.5"] == 0.5
    assert "distribution" not in target


def test_hash_changes_with_any_cell_column_name_or_order(credit: pd.DataFrame) -> None:
    base = content_hash(credit)
    edited = credit.copy()
    edited.loc[100, "Age"] += 1
    assert content_hash(edited) != base
    assert content_hash(credit.rename(columns={"Age": "age"})) != base
    assert content_hash(credit.iloc[::-1].reset_index(drop=True)) != base
    assert content_hash(credit.copy()) == base


@settings(max_examples=40, deadline=None)
@given(
    data_frames(
        [
            column("num", dtype=float),
            column("int", dtype=int),
            column("txt", elements=st.one_of(st.none(), st.text(max_size=5))),
        ]
    )
)
def test_hash_survives_a_parquet_round_trip(frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    again = pd.read_parquet(io.BytesIO(buffer.getvalue()))
    assert content_hash(again) == content_hash(frame.reset_index(drop=True))
