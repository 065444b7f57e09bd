"""params.yaml's sections on the way to a registered model: ``evaluate`` (intervals, groups),
``register`` (the promotion gates) and ``model_card`` (what only people can say)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from automl.config_types import NonEmptyStr, OpenFraction, PositiveInt, Section, Seed, require_known


class GroupParams(Section):
    """One sensitive attribute whose groups are compared; a numeric one is cut into bands."""

    column: NonEmptyStr
    bands: list[float] | None = None

    @model_validator(mode="after")
    def _ascending(self) -> GroupParams:
        if self.bands is not None:
            if not self.bands:
                raise ValueError("bands must list at least one cut point (or be null)")
            if any(b >= a for a, b in zip(self.bands[1:], self.bands, strict=False)):
                raise ValueError("bands must be cut points in ascending order, e.g. [25, 35, 50]")
        return self


class EvaluateParams(Section):
    """``evaluate``: confidence intervals of the test metrics, and metrics per group."""

    bootstrap: Annotated[int, Field(ge=0)] = 1000
    confidence: OpenFraction = 0.95
    seed: Seed = 0
    n_jobs: PositiveInt = 1
    groups: list[GroupParams] = Field(default_factory=list)
    min_group_size: PositiveInt = 30

    @model_validator(mode="after")
    def _distinct(self) -> EvaluateParams:
        names = [g.column for g in self.groups]
        if len(names) != len(set(names)):
            raise ValueError("groups must name each column once")
        if 0 < self.bootstrap < 100:
            raise ValueError("bootstrap must be 0 (no intervals) or at least 100 resamples")
        return self


FAIRNESS_MEASURES = {
    "demographic_parity_difference": "largest difference between groups in the rate of each "
    "predicted class (classification)",
    "equalized_odds_difference": "largest difference between groups in true- or false-positive "
    "rate (classification)",
    "score_gap": "difference between the best and the worst group in the search metric",
}


def _known_measure(name: str) -> str:
    return require_known(name, FAIRNESS_MEASURES, "fairness measure")


GapLimit = Annotated[float, Field(ge=0)]
EVERY_ATTRIBUTE = "*"


def _per_attribute(value: object) -> object:
    """A single number is the limit of every attribute."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {EVERY_ATTRIBUTE: value}
    return value


class GateParams(Section):
    """``register.gates``: what a model must pass to be registered as a candidate."""

    test_metrics: dict[str, float] = Field(default_factory=dict)
    max_cv_test_gap: Annotated[float, Field(ge=0)] | None = None
    # measure -> one limit for every attribute, or {attribute: limit} (others: reported only)
    fairness: dict[
        Annotated[str, AfterValidator(_known_measure)],
        Annotated[dict[NonEmptyStr, GapLimit], BeforeValidator(_per_attribute)],
    ] = Field(default_factory=dict)
    monitoring: Literal["pass", "warn", "fail"] = "warn"


class RegisterParams(Section):
    """``register``: the promotion gates in front of the model registry."""

    gates: GateParams = GateParams()


class ModelCardParams(Section):
    """``model_card``: what only people can say about the model, quoted in the report."""

    owner: str | None = None
    contact: str | None = None
    description: str | None = None
    intended_use: str | None = None
    intended_users: str | None = None
    out_of_scope_uses: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    ethical_considerations: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    metric_rationale: str | None = None
    human_oversight: str | None = None
    risk_management: str | None = None
    post_market_monitoring: str | None = None
    standards: list[str] = Field(default_factory=list)
    declaration_of_conformity: str | None = None
    license: str | None = None
