from __future__ import annotations

import numpy as np
import pandas as pd

from automl.data import checks


def test_useless_columns() -> None:
    frame = pd.DataFrame(
        {
            "empty": [np.nan] * 4,
            "same": ["x"] * 4,
            "same_with_gaps": ["x", None, "x", None],
            "ok": [1, 2, 3, 4],
        }
    )
    found = {f.column: f.reason for f in checks.useless_columns(frame)}
    assert found == {"empty": "all values missing", "same": "constant (one value in every row)"}


def test_id_like_columns() -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "row": np.arange(1000, 1000 + n),
            "customer_id": rng.permutation(10**6)[:n],
            "email": [f"user{i}@example.org" for i in range(n)],
            "income": rng.normal(size=n),
            "amount": rng.permutation(10**6)[:n],
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )
    found = {f.column for f in checks.id_like_columns(frame)}
    assert found == {"row", "customer_id", "email"}


def test_duplicates_and_overlap() -> None:
    frame = pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]})
    assert checks.duplicate_row_count(frame) == 1
    assert checks.overlapping_rows(frame.iloc[:2], frame.iloc[1:]) == 1
    assert checks.overlapping_rows(frame.iloc[2:3], frame.iloc[3:]) == 0


def _leaky_frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.choice(["yes", "no"], size=n, p=[0.3, 0.7]))
    features = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "copy_numeric": np.where(y == "yes", 1.0, 0.0) + rng.normal(0, 0.01, n),
            "copy_text": np.where(y == "yes", "closed", "open"),
            "customer": [f"c{i}" for i in range(n)],
        }
    )
    return features, y


def test_single_feature_scores_find_leaks_but_not_identifiers() -> None:
    features, y = _leaky_frame()
    scores = checks.single_feature_scores(features, y, task="binary", seed=0)
    assert scores["copy_numeric"] > 0.99
    assert scores["copy_text"] > 0.99
    assert scores["noise"] < 0.6
    # An identifier is unique per row: memorising it predicts nothing on held-out rows.
    assert scores["customer"] < 0.6


def test_single_feature_scores_for_regression() -> None:
    rng = np.random.default_rng(1)
    y = pd.Series(rng.normal(size=500))
    features = pd.DataFrame({"leak": y * 2 + 1, "noise": rng.normal(size=500)})
    scores = checks.single_feature_scores(features, y, task="regression", seed=0)
    assert scores["leak"] > 0.95
    assert scores["noise"] < 0.1


def test_progress_callback_sees_every_column() -> None:
    features, y = _leaky_frame(n=120)
    seen: list[str] = []
    checks.single_feature_scores(features, y, task="binary", seed=0, on_column=seen.append)
    assert seen == list(features.columns)
