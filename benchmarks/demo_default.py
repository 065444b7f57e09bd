"""The shipped params.yaml on the demo data: how long a full ``dvc repro`` takes from a fresh
clone, and whether its model beats an untuned HistGradientBoosting on the test split.

    python benchmarks/demo_default.py --out benchmarks/demo_default.json

Targets: under 3 minutes on this 2-core machine; test score above the untuned baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import get_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, machine

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "demo_default.json")
    args = parser.parse_args()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        started = time.monotonic()
        subprocess.run(["dvc", "repro"], cwd=clone, env=env, check=True)
        wall = time.monotonic() - started
        checks = json.loads((clone / "data/prepared/checks.json").read_text())
        summary = json.loads((clone / "results/search/summary.json").read_text())
        train = pd.read_parquet(clone / "data/prepared/train.parquet")
        test = pd.read_parquet(clone / "data/prepared/test.parquet")
        model = pickle.loads((clone / "models/model.pkl").read_bytes())
    target, metric = checks["target"], summary["metric"]
    features = [f["name"] for f in checks["features"]]
    scorer = get_scorer(metric)
    ours = float(scorer(model, test[features], test[target]))
    categorical = train[features].select_dtypes(include=["object", "bool"]).columns
    as_cat = {c: "category" for c in categorical}
    X_train, X_test = train[features].astype(as_cat), test[features].astype(as_cat)
    for c in categorical:
        X_test[c] = X_test[c].cat.set_categories(X_train[c].cat.categories)
    baseline = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    baseline.fit(X_train, train[target])
    theirs = float(scorer(baseline, X_test, test[target]))
    result = {
        "machine": machine(),
        "commit": git_commit(),
        "dvc_repro_wall_s": round(wall, 1),
        "metric": metric,
        "test_score": round(ours, 5),
        "untuned_hgb_test_score": round(theirs, 5),
        "best_cv_score": summary["best_cv_score"],
        "best_family": summary["best_family"],
        "trials": summary["trials"],
    }
    print(json.dumps(result, indent=2))
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
