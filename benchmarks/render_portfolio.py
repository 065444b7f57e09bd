"""The warm-start portfolio's evidence in RESULTS.md (portfolio.json)."""

from __future__ import annotations

from typing import Any


def portfolio_section(data: dict[str, Any]) -> list[str]:
    """Every candidate configuration's normalised CV score per dataset, the greedy choice, and
    the leave-one-dataset-out check."""
    evaluations: dict[str, dict[str, Any]] = data["evaluations"]
    normalised: dict[str, dict[str, float]] = data["normalised"]
    datasets = list(evaluations)
    chosen: list[str] = data["portfolio"]
    lines = [
        "## Warm-start portfolio: the evidence (issue 9)",
        "",
        f"Machine: {data['machine']}. Commit {data['commit']}. Command: "
        f"`python benchmarks/portfolio.py ../shared/bench --cv {data['cv']}`.",
        *[
            f"Added later with `--add {' '.join(a['candidates'])}`: machine {a['machine']}, "
            f"commit {a['commit']}."
            for a in data.get("added", [])
        ],
        "",
        f"Each candidate of `automl/portfolio.py` cross-validated ({data['cv']} folds, the "
        "search's own trial runner) on each dataset. Cells: the CV score normalised per dataset "
        "(1 = the best candidate, 0 = the median candidate or worse; `-` = not run: the family "
        "does not fit the data, or it failed). The portfolio is chosen greedily: each step adds "
        "the candidate that most raises the mean over datasets of the best cell so far; the "
        "chosen ones are queued cheapest first (`chosen` = place in the queue).",
        "",
        "| candidate | " + " | ".join(datasets) + " | mean s | chosen |",
        "|---|" + "---:|" * len(datasets) + "---:|---:|",
    ]
    for name, seconds in data["mean_seconds"].items():
        cells = []
        for dataset in datasets:
            result = evaluations[dataset].get(name)
            ran = result is not None and result["cv_mean"] is not None
            cells.append(f"{normalised[dataset][name]:.2f}" if ran else "-")
        order = str(chosen.index(name) + 1) if name in chosen else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.1f} | {order} |")
    lines += [
        "",
        "Leave one dataset out: the portfolio chosen from the other seven, and how far its best "
        "configuration falls short of the best candidate on the dataset left out.",
        "",
        "| dataset left out | portfolio chosen without it | regret |",
        "|---|---|---:|",
    ]
    for dataset, check in data["leave_one_out"].items():
        regret = "failed" if check["regret_pct"] is None else f"{check['regret_pct']:.2f}%"
        lines.append(f"| {dataset} | {', '.join(check['portfolio'])} | {regret} |")
    return [*lines, ""]
