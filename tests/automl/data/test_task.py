from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data import infer_task
from automl.exceptions import DataError


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["good", "bad"] * 10, "binary"),
        ([True, False] * 10, "binary"),
        ([0, 1] * 10, "binary"),
        (["a", "b", "c"] * 10, "multiclass"),
        ([1, 2, 3, 4, 5] * 10, "multiclass"),
        ([1.0, 2.0, 3.0] * 10, "multiclass"),
        (list(np.linspace(0, 10, 30)), "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_inferred_task(values: list[object], expected: str) -> None:
    assert infer_task(pd.Series(values)) == expected


def test_missing_values_do_not_count_as_a_class() -> None:
    assert infer_task(pd.Series(["a", "b", None] * 5)) == "binary"


def test_override_is_checked_against_the_values() -> None:
    assert infer_task(pd.Series([1, 2, 3] * 10), requested="regression") == "regression"
    with pytest.raises(
        DataError, match="data.task = regression, but the target 'y' is not numeric"
    ):
        infer_task(pd.Series(["a", "b"] * 5), requested="regression", name="y")
    with pytest.raises(DataError, match="data.task = binary, but the target 'y' has 3 distinct"):
        infer_task(pd.Series(["a", "b", "c"]), requested="binary", name="y")
    with pytest.raises(DataError, match="only 2 distinct values"):
        infer_task(pd.Series(["a", "b"]), requested="multiclass")


def test_too_many_text_classes_is_an_error_that_names_the_knob() -> None:
    with pytest.raises(DataError, match="prepare.max_classes = 20"):
        infer_task(pd.Series([f"c{i}" for i in range(50)]))
    assert infer_task(pd.Series([f"c{i}" for i in range(50)]), max_classes=60) == "multiclass"
