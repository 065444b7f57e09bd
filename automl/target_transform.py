"""The regression target as a trial's model fits it: as it is, or power-transformed.

Many regression targets are skewed (prices, counts, durations): a few large values dominate a
squared loss, and trees split to fit them at the expense of the many ordinary rows. Fitting a
compressed target and mapping predictions back often fits the bulk better, and sometimes worse
(a count's zeros and small values are spread apart, the mean is biased low on the way back).
Neither is right for every dataset, so the search chooses per trial: ``identity``, or
``power``, scikit-learn's Yeo-Johnson transform (``PowerTransformer``), which fits its exponent
to the training target (near a logarithm for a price, near a square root for a count) and
works for targets of any sign. An ensemble then also gains members that err differently.

Only families whose answers stay within the targets they saw (``Family.power_target``: tree
ensembles) get the choice, and the inverse is bounded by the transformed training targets: an
answer outside them, mapped back through an exponential-like inverse, can be absurd. A linear
model or an SVM fitted to log prices predicted over a million for two large houses sold cheaply
on ames_raw, and won the ensemble on CV.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.preprocessing import PowerTransformer

from automl.data.task import Task
from automl.families.base import Family, Space

TargetTransform = Literal["identity", "power"]
TARGET_TRANSFORMS: tuple[TargetTransform, ...] = ("identity", "power")


def target_space(space: Space, task: Task, family: Family) -> dict[str, Any]:
    """The searched target transform of a regression trial of ``family``; nothing for classes
    or for a family that extrapolates."""
    if task != "regression" or not family.power_target:
        return {}
    return {"target": space.choice("target", TARGET_TRANSFORMS)}


class BoundedPowerTransformer(PowerTransformer):  # type: ignore[misc]
    """Yeo-Johnson (standardised) whose inverse keeps answers within the range of the
    transformed targets it was fitted to."""

    def fit(self, X: Any, y: Any = None) -> BoundedPowerTransformer:
        super().fit(X, y)
        seen = super().transform(X)
        self.low_, self.high_ = np.nanmin(seen, axis=0), np.nanmax(seen, axis=0)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        # PowerTransformer's own fit_transform skips fit, and with it the bounds.
        return self.fit(X, y).transform(X)

    def inverse_transform(self, X: Any) -> Any:
        return super().inverse_transform(np.clip(X, self.low_, self.high_))


def fit_target_as(estimator: Any, *, transform: str, standardize: bool) -> Any:
    """``estimator`` fitting the transformed target, predicting on the target's own scale.

    ``standardize``: families that need a target of unit scale (distance- and gradient-based
    ones) get it either way; Yeo-Johnson standardises what it transforms."""
    from sklearn.compose import TransformedTargetRegressor

    if transform == "power":
        transformer: Any = BoundedPowerTransformer(method="yeo-johnson", standardize=True)
    elif transform == "identity":
        if not standardize:
            return estimator
        from sklearn.preprocessing import StandardScaler

        transformer = StandardScaler()
    else:
        raise ValueError(f"unknown target transform {transform!r}: one of {TARGET_TRANSFORMS}")
    # check_inverse off: it refits the transformer on a sample only to warn.
    return TransformedTargetRegressor(
        regressor=estimator, transformer=transformer, check_inverse=False
    )
