"""Time and peak memory of monitoring a batch (automl.monitor.monitor) as batches grow.

    python benchmarks/monitor_scale.py --rows 10000 100000 1000000

Reference and current batches of N rows x 30 columns (20 numeric, 10 categorical, a binary
label), the current one with three shifted columns; a fitted HistGradientBoosting pipeline as
the model. Each size runs in a fresh process: wall time of ``monitor`` (predictions, the
Evidently reports with tests, the summary) and peak RSS growth over the process after the data
and model exist (sampled every 10 ms). Reports sample at most ``monitor.sample_rows`` (100,000)
rows per side; the figures show what that buys at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import git_commit, machine


def _data(rows: int, seed: int, shift: bool):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"n{i}": rng.normal(size=rows) for i in range(20)})
    for i in range(10):
        frame[f"c{i}"] = rng.choice([f"v{j}" for j in range(8)], size=rows)
    score = frame["n0"] + frame["n1"] - frame["n2"] + (frame["c0"] == "v1") * 0.8
    frame["label"] = np.where(score + rng.normal(size=rows) > 0, "yes", "no")
    if shift:
        for column in ("n0", "n5", "n9"):
            frame[column] = frame[column] * 1.5 + 0.7
    return frame


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(rows: int) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from automl.monitor import MonitorThresholds, monitor

    reference, current = _data(rows, 0, False), _data(rows, 1, True)
    features = [c for c in reference.columns if c != "label"]
    categorical = [c for c in features if c.startswith("c")]
    model = make_pipeline(
        make_column_transformer((OrdinalEncoder(), categorical), remainder="passthrough"),
        HistGradientBoostingClassifier(max_iter=30),
    ).fit(reference[features].head(20_000), reference["label"].head(20_000))
    import evidently  # noqa: F401  (imported before the clock: a one-off 3-6 s)

    base = _rss_kib()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], _rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    result = monitor(
        reference, current, model=model, task="binary", target="label", features=features,
        classes=["no", "yes"], thresholds=MonitorThresholds(quality={"roc_auc": 0.6}),
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    print(json.dumps({
        "rows": rows, "seconds": round(elapsed, 2),
        "peak_mib": round((max(peak[0], _rss_kib()) - base) / 1024, 1),
        "status": result.status, "drifted": result.summary["drifted_columns"],
        "rows_used": result.summary["rows"]["current_used"],
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/monitor_scale.json"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results = []
    for rows in args.rows:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(rows)], capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        results.append(row)
    payload = {"machine": machine(), "commit": git_commit(), "rows": results}
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
