"""Shared by the benchmarks: the public suite's datasets and the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    target: str
    metric: str
    train: pd.DataFrame
    test: pd.DataFrame

    def split(self) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
        return (
            self.train.drop(columns=self.target),
            self.train[self.target],
            self.test.drop(columns=self.target),
            self.test[self.target],
        )


def read_suites(path: Path) -> dict[str, dict[str, Any]]:
    """suites.json of the suite folder: each dataset's task, target and metric by name."""
    suites: dict[str, dict[str, Any]] = json.loads((path / "suites.json").read_text())
    return suites


def load_suite(path: Path, names: list[str] | None = None) -> list[Dataset]:
    suites = read_suites(path)
    chosen = names or list(suites)
    return [
        Dataset(
            name=name,
            task=suites[name]["task"],
            target=suites[name]["target"],
            metric=suites[name]["metric"],
            train=pd.read_parquet(path / name / "train.parquet"),
            test=pd.read_parquet(path / name / "test.parquet"),
        )
        for name in chosen
    ]


def as_categories(X: pd.DataFrame, X_test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Object and bool columns as pandas categories, the test frame with the training frame's
    categories (a level unseen in training becomes missing), for estimators that read
    categories from the dtype."""
    categorical = X.select_dtypes(include=["object", "bool"]).columns
    X = X.astype({c: "category" for c in categorical})
    X_test = X_test.astype({c: "category" for c in categorical})
    for c in categorical:
        X_test[c] = X_test[c].cat.set_categories(X[c].cat.categories)
    return X, X_test


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
