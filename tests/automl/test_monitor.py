"""Monitoring with real Evidently reports: shifts made here are found, a batch drawn from the
reference is not flagged, bad batches get messages naming their columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from automl.exceptions import DataError
from automl.monitor import MonitorThresholds, check_batch, monitor

TARGET = "Status"


@pytest.fixture(scope="module")
def setting(credit: pd.DataFrame) -> dict[str, Any]:
    data = credit.dropna(subset=[TARGET]).sample(frac=1.0, random_state=0).reset_index(drop=True)
    features = [c for c in data.columns if c != TARGET]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(data[c])]
    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    model = make_pipeline(
        make_column_transformer((encode, categorical), remainder="passthrough"),
        HistGradientBoostingClassifier(max_iter=60, random_state=0),
    )
    reference, current = data.iloc[:2500], data.iloc[2500:]
    model.fit(reference[features], reference[TARGET])
    return {
        "reference": reference, "current": current, "model": model, "features": features,
        "classes": [str(c) for c in model.classes_],
    }  # fmt: skip


def _run(setting: dict[str, Any], current: pd.DataFrame, **limits: Any) -> Any:
    return monitor(
        setting["reference"], current, model=setting["model"], task="binary", target=TARGET,
        features=setting["features"], classes=setting["classes"],
        thresholds=MonitorThresholds(**limits),
    )  # fmt: skip


def test_a_batch_drawn_from_the_reference_passes(setting: dict[str, Any], tmp_path: Path) -> None:
    result = _run(setting, setting["current"], quality={"roc_auc": 0.7})
    assert result.status == "pass", result.summary["reasons"]
    assert result.summary["drift_share"] < 0.2
    assert result.summary["quality"]["roc_auc"] > 0.7
    assert result.summary["labelled"] is True
    assert not result.summary["prediction_drift"]["drifted"]
    html, report = tmp_path / "report.html", tmp_path / "report.json"
    result.save(html=html, report_json=report)
    assert html.stat().st_size > 100_000 and b"<html" in html.read_bytes()[:2000].lower()
    assert "metrics" in json.loads(report.read_text())


def test_shifted_columns_and_a_new_category_are_found(setting: dict[str, Any]) -> None:
    shifted = setting["current"].copy()
    for column in ("Income", "Amount", "Price", "Expenses", "Assets", "Seniority", "Age"):
        shifted[column] = shifted[column] * 2.5 + 10
    shifted["Home"] = "castle"  # a category the reference never had
    result = _run(setting, shifted, quality={"roc_auc": 0.99})
    assert result.status == "fail"
    drifted = set(result.summary["drifted_columns"])
    assert {"Income", "Amount", "Price", "Home"} <= drifted
    assert result.summary["drift_share"] >= 0.5
    assert any("drifted" in reason for reason in result.summary["reasons"])
    assert any("roc_auc" in reason and "below" in reason for reason in result.summary["reasons"])
    one = setting["current"].copy()
    one["Income"] = one["Income"] + 500
    single = _run(setting, one, drift_share_warn=0.05)
    assert single.summary["drifted_columns"] == ["Income"]
    assert single.status == "warn"


def test_large_batches_are_sampled_and_say_so(setting: dict[str, Any]) -> None:
    result = _run(setting, setting["current"], sample_rows=500)
    rows = result.summary["rows"]
    assert rows["sampled"] is True
    assert rows["current_used"] == 500 and rows["reference_used"] == 500
    assert rows["current"] == len(setting["current"])


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda f: f.drop(columns=["Income", "Age"]), ["lacks", "Income", "Age"]),
        (lambda f: f.assign(Extra=1), ["does not know", "Extra"]),
        (lambda f: f.assign(Income=f["Income"].astype(str)), ["changed type", "Income"]),
        (lambda f: f.iloc[:0], ["is empty"]),
        (lambda f: f.drop(columns=[TARGET]), ["no labels", "Status", "monitor.quality"]),
    ],
    ids=["missing", "extra", "dtype", "empty", "no-labels"],
)
def test_bad_batches_name_their_columns(
    setting: dict[str, Any], change: Any, fragments: list[str]
) -> None:
    with pytest.raises(DataError) as info:
        check_batch(
            setting["reference"], change(setting["current"]), features=setting["features"],
            target=TARGET, need_labels=True,
        )  # fmt: skip
    for fragment in fragments:
        assert fragment in str(info.value)


def test_an_unknown_quality_metric_is_refused(setting: dict[str, Any]) -> None:
    with pytest.raises(DataError, match="unknown metric"):
        _run(setting, setting["current"], quality={"auroc": 0.7})


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_regression_and_multiclass_models_are_monitored(task: str) -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    rng = np.random.default_rng(1)
    rows = 1500
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    signal = frame["x1"] * 2 + frame["x2"]
    if task == "regression":
        frame["y"] = signal + rng.normal(scale=0.1, size=rows)
        model: Any = HistGradientBoostingRegressor(max_iter=40)
        classes = None
        quality = {"rmse": 5.0, "r2": 0.5}
    else:
        frame["y"] = np.select([signal < -1, signal > 1], ["low", "high"], "mid")
        model = HistGradientBoostingClassifier(max_iter=40)
        classes = ["high", "low", "mid"]
        quality = {"accuracy": 0.6}
    reference, current = frame.iloc[:800], frame.iloc[800:]
    model.fit(reference[["x1", "x2"]], reference["y"])
    result = monitor(
        reference, current, model=model, task=task, target="y", features=["x1", "x2"],
        classes=classes, thresholds=MonitorThresholds(quality=quality),
    )  # fmt: skip
    assert result.status == "pass", result.summary["reasons"]
    assert set(quality) <= set(result.summary["quality"])
    moved = current.assign(x1=current["x1"] + 3)
    result = monitor(
        reference, moved, model=model, task=task, target="y", features=["x1", "x2"],
        classes=classes, thresholds=MonitorThresholds(quality=quality),
    )  # fmt: skip
    assert result.status == "fail"
    assert "x1" in result.summary["drifted_columns"]
