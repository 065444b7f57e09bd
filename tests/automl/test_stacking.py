"""The second level (automl.stacking): its columns, its choice of pipelines, its model, the
search's gate on CV and time, and the refit the train stage does without the search's answers."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import log_loss

from automl.cost import CostModel
from automl.ensemble import Candidate, Ensemble, Member
from automl.estimator import refit_stacked
from automl.families import FAMILIES, BuildContext
from automl.preprocess import build_pipeline, plan_columns
from automl.search_setup import cv_folds
from automl.stacked_model import COLUMN_PREFIX, StackedModel, answer_columns, out_of_fold
from automl.stacking import (
    IN_PROCESS,
    INPUTS,
    MIN_ROWS,
    expected_stack_s,
    pick_inputs,
    pick_second,
    search_stack,
)

LINEAR = {"regularization": 1.0, "l1_ratio": 0.0, "class_weight": "none", "features": "all"}
HGB = {"learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 20,
       "l2_regularization": 1.0, "max_features": 1.0, "class_weight": "none"}  # fmt: skip
TREES = {"n_estimators": 50, "max_features": 0.7, "min_samples_leaf": 3, "class_weight": "none"}


def _classification(n: int = 600, classes: int = 3) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=classes,
                               random_state=0)  # fmt: skip
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    frame["group"] = np.where(X[:, 0] > 0, "a", "b")
    return frame, y


def _candidates(
    X: pd.DataFrame, y: np.ndarray[Any, Any], folds: list[Any], task: Any
) -> list[Candidate]:
    """Real out-of-fold answers of three pipelines, as the search keeps them (best first)."""
    plan = plan_columns(X)
    context = BuildContext(task=task, seed=0, n_jobs=1, early_stopping=False)
    out = []
    for trial, (family, params) in enumerate(
        [("hist_gradient_boosting", HGB), ("extra_trees", TREES), ("linear", LINEAR)]
    ):
        pipeline = build_pipeline(plan, FAMILIES[family], params, context)
        answers = out_of_fold(pipeline, X, y, folds=folds, task=task, n_jobs=1)
        assert answers is not None
        out.append(Candidate(trial, family, params, answers, refit_s=0.5))
    return out


def test_answer_columns_per_task() -> None:
    binary = np.array([[0.8, 0.2], [0.5, 0.5]])
    logit = answer_columns([binary, binary], "binary")
    assert logit.shape == (2, 2)
    assert logit[0, 0] == pytest.approx(np.log(0.2 / 0.8)) and logit[1, 1] == pytest.approx(0.0)
    multi = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 1.0]])
    logs = answer_columns([multi], "multiclass")
    assert logs.shape == (2, 3) and np.isfinite(logs).all()  # a zero probability is clipped
    values = answer_columns([np.array([1.0, 2.0]), np.array([3.0, 4.0])], "regression")
    assert values.tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_inputs_are_members_then_the_best_of_other_families() -> None:
    answers = np.zeros(4)
    families = ["xgboost", "xgboost", "lightgbm", "xgboost", "linear", "lightgbm"]
    candidates = [Candidate(i, f, {}, answers, 1.0) for i, f in enumerate(families)]
    ensemble = Ensemble(
        members=(Member(3, "xgboost", {}, 0.6), Member(1, "xgboost", {}, 0.4)),
        cv_scores=(0.0,), rounds=2, refit_s=1.0,
    )  # fmt: skip
    inputs = pick_inputs(candidates, ensemble)
    assert [c.trial for c in inputs] == [3, 1, 2, 4]
    # Without an ensemble: the best five stand in for its members, then the best of every
    # other family.
    assert [c.trial for c in pick_inputs(candidates, None)] == [0, 1, 2, 3, 4]
    assert [c.trial for c in pick_inputs(candidates[:4], None)] == [0, 1, 2, 3]
    # The stackers: extra trees from the portfolio, as no trial of it was kept; the search's
    # own linear trial.
    second = pick_second(inputs, task="binary")
    assert [(c.trial, c.family) for c in second] == [(-1, "extra_trees"), (4, "linear")]
    assert second[0].params["min_samples_leaf"] == 5 and second[0].refit_s == 1.0
    # Where the trials fitted its family, their fit times estimate it instead.
    costs = CostModel()
    costs.observe("extra_trees", {"n_estimators": 50}, fold_fit_s=0.1)
    seen = pick_second(inputs, task="binary", costs=costs, cv=5)
    assert seen[0].refit_s == costs.refit_seconds("extra_trees", seen[0].params, 5) != 1.0
    only = pick_second(inputs, task="regression", families=["xgboost", "lightgbm", "linear"])
    assert [c.trial for c in only] == [4]
    assert pick_second(inputs, task="binary", families=["xgboost"]) == []
    defaults = pick_second(inputs[:2], task="regression")
    assert "class_weight" not in defaults[0].params and defaults[0].params["target"] == "identity"
    many = [Candidate(i, f"f{i}", {}, answers, 1.0) for i in range(20)]
    assert len(pick_inputs(many, None)) == INPUTS


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_stack_beats_a_weak_first_level_and_refits_as_one_model(task: Any) -> None:
    if task == "regression":
        Xa, y = make_regression(n_samples=600, n_features=8, noise=5.0, random_state=0)
        X = pd.DataFrame(Xa, columns=[f"f{i}" for i in range(8)])
        metric = "neg_root_mean_squared_error"
    else:
        X, y = _classification()
        metric = "neg_log_loss"
    folds = cv_folds(y, task=task, cv=3, seed=0)
    candidates = _candidates(X, y, folds, task)
    # A baseline nothing can lose to: the stack is kept whenever a second level is chosen.
    outcome = search_stack(
        candidates, ensemble=None, best_cv=-np.inf, X=X, y=y, folds=folds, plan=plan_columns(X),
        metric=metric, task=task, seed=0, n_jobs=1, early_stopping=False, deadline=None,
    )  # fmt: skip
    assert outcome is not None
    stacked = outcome.ensemble
    assert stacked.second and [m.trial for m in stacked.inputs] == [0, 1, 2]
    weights = [m.weight for m in (*stacked.members, *stacked.second)]
    assert sum(weights) == pytest.approx(1.0)
    assert len(outcome.input_answers) == 3
    # Written for best_params.json and read back as the train stage does.
    written = stacked.to_dict()
    assert Ensemble.members_from(written["second"]) == stacked.second
    assert Ensemble.members_from(written["inputs"]) == stacked.inputs
    assert any("on level 1" in line for line in stacked.describe())

    y_series = pd.Series(y if task == "regression" else np.array(["no", "maybe", "yes"])[y])
    classes = None if task == "regression" else np.array(["maybe", "no", "yes"], dtype=object)
    kwargs = dict(plan=plan_columns(X), ensemble=stacked, task=task, seed=0, n_jobs=1,
                  classes=classes, early_stopping=False, cv=3)  # fmt: skip
    if task == "multiclass":
        # The labels' sorted order is the class order; answers must follow it.
        order = {label: i for i, label in enumerate(classes)}  # type: ignore[arg-type]
        y_codes = np.array([order[v] for v in y_series])
        folds = cv_folds(y_codes, task=task, cv=3, seed=0)
        given = [
            out_of_fold(build_pipeline(plan_columns(X), FAMILIES[m.family], m.params,
                                        BuildContext(task=task, seed=0, n_jobs=1,
                                                     early_stopping=False)),
                         X, y_codes, folds=folds, task=task, n_jobs=1)
            for m in stacked.inputs
        ]  # fmt: skip
    else:
        given = outcome.input_answers
    with_answers = refit_stacked(X, y_series, input_answers=given, **kwargs)  # type: ignore[arg-type]
    # The train stage has no answers: it computes them again on the same folds.
    recomputed = refit_stacked(X, y_series, **kwargs)  # type: ignore[arg-type]
    new_rows = X.sample(50, random_state=1)
    if task == "regression":
        np.testing.assert_allclose(with_answers.predict(new_rows), recomputed.predict(new_rows))
        assert np.corrcoef(with_answers.predict(X), y)[0, 1] > 0.9
    else:
        proba = with_answers.predict_proba(new_rows)
        np.testing.assert_allclose(proba, recomputed.predict_proba(new_rows))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert set(with_answers.predict(new_rows)) <= {"no", "maybe", "yes"}
        assert log_loss(y_series, with_answers.predict_proba(X), labels=classes) < 0.6
    inner = with_answers if task == "regression" else with_answers.estimator_
    assert isinstance(inner, StackedModel)
    again = pickle.loads(pickle.dumps(with_answers))
    answer = "predict" if task == "regression" else "predict_proba"
    np.testing.assert_allclose(
        getattr(again, answer)(new_rows), getattr(with_answers, answer)(new_rows)
    )
    # The second level's columns never leak into what the model expects of new rows.
    assert not any(str(c).startswith(COLUMN_PREFIX) for c in new_rows.columns)


def test_stack_is_dropped_when_it_does_not_beat_the_first_level_or_has_no_time() -> None:
    X, y = _classification()
    folds = cv_folds(y, task="multiclass", cv=3, seed=0)
    candidates = _candidates(X, y, folds, "multiclass")
    common: dict[str, Any] = dict(
        X=X, y=y, folds=folds, plan=plan_columns(X), metric="neg_log_loss", task="multiclass",
        seed=0, n_jobs=1, early_stopping=False,
    )  # fmt: skip
    assert search_stack(candidates, ensemble=None, best_cv=0.0, deadline=None, **common) is None
    now = [100.0]
    # The refits alone are expected to take longer than the one second left.
    assert (
        search_stack(
            candidates,
            ensemble=None,
            best_cv=-np.inf,
            deadline=101.0,
            clock=lambda: now[0],
            **common,
        )
        is None
    )
    assert search_stack(candidates[:1], ensemble=None, best_cv=-np.inf, deadline=None,
                        **common) is None  # fmt: skip


def test_no_second_level_is_tried_on_a_few_hundred_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    import automl.stacking
    from automl.stacked_model import widen as real_widen

    widened: list[int] = []

    def widen(X: pd.DataFrame, columns: Any) -> pd.DataFrame:
        widened.append(len(X))
        return real_widen(X, columns)

    monkeypatch.setattr(automl.stacking, "widen", widen)

    def stacked(n: int) -> Any:
        X, y = _classification(n=n)
        folds = cv_folds(y, task="multiclass", cv=3, seed=0)
        return search_stack(
            _candidates(X, y, folds, "multiclass"), ensemble=None, best_cv=-np.inf, X=X, y=y,
            folds=folds, plan=plan_columns(X), metric="neg_log_loss", task="multiclass", seed=0,
            n_jobs=1, early_stopping=False, deadline=None,
        )  # fmt: skip

    # Against a first level that any stack beats, the row count alone decides.
    assert stacked(MIN_ROWS - 1) is None
    assert widened == []  # refused before any second-level table was built
    assert stacked(MIN_ROWS) is not None
    assert widened == [MIN_ROWS]


def test_time_is_kept_back_only_when_the_stack_fits_its_share() -> None:
    answers = np.zeros(10)
    candidates = [Candidate(i, f, {}, answers, refit) for i, (f, refit) in
                  enumerate([("xgboost", 2.0), ("lightgbm", 1.0), ("linear", 1.0)])]  # fmt: skip
    kw: dict[str, Any] = dict(task="binary", families=None)
    least, full = expected_stack_s(candidates, **kw, n_features=10, n_classes=2, cv=5, n_jobs=1)
    # Three inputs (three columns); the second level on 13 columns: extra trees (from the
    # portfolio, assumed as costly as the costliest input) and the search's linear trial,
    # 4 folds' fits and a refit each, plus the inputs' refits.
    scale = 1 + 0.5 * 3 / 10
    refits = (4.0 + 3.0 * scale) * IN_PROCESS
    assert full == pytest.approx(3.0 * scale * 4 * IN_PROCESS + refits)
    # At the least, the smallest stack: the best two inputs (two columns), with a linear
    # stacker from the portfolio now (the linear trial is not among them), both stackers
    # assumed as costly as the costlier input; the first (extra trees, half the fold time)
    # cross-validated, and the refits.
    few = 1 + 0.5 * 2 / 10
    few_refits = (3.0 + 2 * 2.0 * few) * IN_PROCESS
    assert least == pytest.approx(2.0 * few * 4 * IN_PROCESS + few_refits)
    # What the trials showed of a stacker's family replaces the assumption.
    costs = CostModel()
    costs.observe("extra_trees", {"n_estimators": 100}, fold_fit_s=0.01)
    seen = expected_stack_s(candidates, **kw, n_features=10, n_classes=2, cv=5, n_jobs=1,
                            costs=costs)  # fmt: skip
    assert seen[0] < least and seen[1] < full
    assert expected_stack_s(candidates[:1], **kw, n_features=10, n_classes=2, cv=5,
                            n_jobs=1) == (0.0, 0.0)  # fmt: skip
    # No stacker among the families the search may use: no second level.
    assert expected_stack_s(candidates, task="binary", families=["xgboost"], n_features=10,
                            n_classes=2, cv=5, n_jobs=1) == (0.0, 0.0)  # fmt: skip
    # More classes mean more columns, so more time.
    more = expected_stack_s(candidates, **kw, n_features=10, n_classes=4, cv=5, n_jobs=1)
    assert more[1] > full
