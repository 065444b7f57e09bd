from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.split import split_dataset
from automl.exceptions import DataError


def test_stratified_split_keeps_class_shares(credit: pd.DataFrame) -> None:
    train, test, info = split_dataset(
        credit, target="Status", task="binary", test_size=0.25, seed=3
    )
    assert len(train) + len(test) == len(credit)
    assert len(test) == pytest.approx(0.25 * len(credit), abs=1)
    share = credit["Status"].eq("bad").mean()
    assert train["Status"].eq("bad").mean() == pytest.approx(share, abs=0.002)
    assert test["Status"].eq("bad").mean() == pytest.approx(share, abs=0.002)
    assert info == {"method": "stratified", "test_size": 0.25, "seed": 3}


def test_split_is_reproducible_and_depends_on_the_seed(credit: pd.DataFrame) -> None:
    def split(seed: int) -> pd.DataFrame:
        return split_dataset(credit, target="Status", task="binary", test_size=0.2, seed=seed)[1]

    pd.testing.assert_frame_equal(split(7), split(7))
    assert not split(7).equals(split(8))


def test_regression_split_is_random_not_stratified() -> None:
    frame = pd.DataFrame({"x": range(100), "y": np.linspace(0, 1, 100)})
    _, test, info = split_dataset(frame, target="y", task="regression", test_size=0.3, seed=0)
    assert info["method"] == "random"
    assert len(test) == 30


def test_time_split_puts_the_latest_rows_in_test() -> None:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=100, freq="D")
    frame = pd.DataFrame(
        {"when": rng.permutation(days.astype(str)), "x": range(100), "y": [0, 1] * 50}
    )
    train, test, info = split_dataset(
        frame, target="y", task="binary", test_size=0.2, seed=0, time_column="when"
    )
    assert len(test) == 20
    assert pd.to_datetime(train["when"]).max() < pd.to_datetime(test["when"]).min()
    assert info["method"] == "time"
    assert info["test_from"].startswith("2024-03-21")


def test_time_split_keeps_ties_on_one_side() -> None:
    frame = pd.DataFrame({"t": [1, 2, 3, 3, 3, 3], "y": [0, 1, 0, 1, 0, 1]})
    train, test, _ = split_dataset(
        frame, target="y", task="binary", test_size=0.2, seed=0, time_column="t"
    )
    assert train["t"].tolist() == [1, 2]
    assert (test["t"] == 3).all()


def test_time_split_refuses_unparseable_or_missing_times() -> None:
    frame = pd.DataFrame({"t": ["2024-01-01", "not a date", "2024-01-03"], "y": [0, 1, 0]})
    with pytest.raises(DataError, match="1 values are not ISO 8601 dates.*row 2"):
        split_dataset(frame, target="y", task="binary", test_size=0.3, seed=0, time_column="t")
    frame = pd.DataFrame({"t": [1, None, 3], "y": [0, 1, 0]})
    with pytest.raises(DataError, match="1 rows have no time"):
        split_dataset(frame, target="y", task="binary", test_size=0.3, seed=0, time_column="t")


def test_day_first_dates_need_a_format_and_then_order_correctly() -> None:
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"t": days.strftime("%d/%m/%Y"), "y": [0, 1] * 30})
    with pytest.raises(DataError, match="split.time_format"):
        split_dataset(frame, target="y", task="binary", test_size=0.2, seed=0, time_column="t")
    train, test, _ = split_dataset(
        frame, target="y", task="binary", test_size=0.2, seed=0, time_column="t",
        time_format="%d/%m/%Y",
    )  # fmt: skip
    last_train = pd.to_datetime(train["t"], format="%d/%m/%Y").max()
    assert last_train < pd.to_datetime(test["t"], format="%d/%m/%Y").min()
    assert last_train == pd.Timestamp("2024-02-17")
