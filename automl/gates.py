"""Promotion gates: what a model must show before it may become a registered candidate.

Each gate (``register.gates`` in params.yaml) compares one measured value with its limit and
says why it failed. A gate whose value cannot be measured fails: in front of a registry, not
knowing is not passing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from automl.config import GateParams
from automl.config_release import EVERY_ATTRIBUTE
from automl.exceptions import ConfigError

# Test metrics where lower is better: their gate is a ceiling, every other one a floor.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae"})
_STATUS_RANK = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class GateCheck:
    gate: str
    passed: bool
    value: float | str | None
    limit: float | str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_gates(
    gates: GateParams,
    *,
    metrics: Mapping[str, Any],
    fairness: Mapping[str, Any],
    monitoring: Mapping[str, Any] | None,
    task: str,
) -> list[GateCheck]:
    """Every configured gate, measured; the caller decides what a failure means."""
    checks = [_metric_gate(name, bound, metrics) for name, bound in gates.test_metrics.items()]
    if gates.max_cv_test_gap is not None:
        gap = float(metrics["cv_test_gap"])
        checks.append(
            GateCheck(
                "max_cv_test_gap", gap <= gates.max_cv_test_gap, gap, gates.max_cv_test_gap,
                f"CV {metrics['metric']} minus test {metrics['metric']} is {gap:.4f}",
            )
        )  # fmt: skip
    attributes = fairness.get("attributes") or {}
    if gates.fairness and not attributes:
        raise ConfigError(
            "register.gates.fairness is set, but evaluate.groups names no sensitive attribute "
            "to compare groups of: add one (e.g. {column: Age, bands: [25, 35, 50]}) or remove "
            "the fairness gates."
        )
    for measure, limit in gates.fairness.items():
        if task == "regression" and measure != "score_gap":
            raise ConfigError(
                f"register.gates.fairness.{measure} applies to classification only; for "
                "regression use score_gap."
            )
        every = limit.get(EVERY_ATTRIBUTE)
        limits = dict.fromkeys(attributes, every) if every is not None else dict(limit)
        unknown = sorted(set(limits) - set(attributes))
        if unknown:
            raise ConfigError(
                f"register.gates.fairness.{measure}: {unknown} are not in evaluate.groups "
                f"(which compares {sorted(attributes)}); add them there or remove them here."
            )
        for column, found in attributes.items():
            if column in limits:
                checks.append(_fairness_gate(measure, limits[column], column, found))
    if gates.monitoring != "fail":
        checks.append(_monitoring_gate(gates.monitoring, monitoring))
    return checks


def _metric_gate(name: str, bound: float, metrics: Mapping[str, Any]) -> GateCheck:
    numeric = [k for k, v in metrics.items() if isinstance(v, int | float) and k != "rows"]
    if name not in numeric:
        close = difflib.get_close_matches(name, numeric, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"register.gates.test_metrics.{name}: the evaluate stage measured no such metric; "
            f"{hint}measured: {', '.join(numeric)}."
        )
    value = float(metrics[name])
    if name in LOWER_IS_BETTER:
        return GateCheck(
            f"test {name}", value <= bound, value, bound, f"test {name} must be at most {bound:g}"
        )
    return GateCheck(
        f"test {name}", value >= bound, value, bound, f"test {name} must be at least {bound:g}"
    )


def _fairness_gate(measure: str, limit: float, column: str, found: Mapping[str, Any]) -> GateCheck:
    gate = f"{measure} ({column})"
    value = found["gaps"].get(measure)
    if value is None:
        return GateCheck(
            gate, False, None, limit,
            f"cannot be measured on {column}: fewer than two groups have at least "
            f"{found['min_group_size']} test rows (evaluate.min_group_size)",
        )  # fmt: skip
    return GateCheck(
        gate, value <= limit, float(value), limit,
        f"{measure.replace('_', ' ')} across {column} groups must be at most {limit:g}",
    )  # fmt: skip


def _monitoring_gate(worst: str, monitoring: Mapping[str, Any] | None) -> GateCheck:
    if monitoring is None:
        return GateCheck(
            "monitoring", False, None, worst, "no monitoring result: run the monitor stage"
        )
    status = str(monitoring.get("status"))
    passed = _STATUS_RANK.get(status, 2) <= _STATUS_RANK[worst]
    reasons = "; ".join(monitoring.get("reasons") or []) or "no findings"
    return GateCheck(
        "monitoring", passed, status, worst,
        f"monitoring status {status} (worst accepted: {worst}): {reasons}",
    )  # fmt: skip


def failures(checks: list[GateCheck]) -> list[str]:
    return [
        f"{c.gate}: {c.detail} (measured {_shown(c.value)}, limit {_shown(c.limit)})"
        for c in checks
        if not c.passed
    ]


def _shown(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "not measured" if value is None else str(value)
