"""Ensemble selection, the answers kept for it, the cost model and the portfolio."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import optuna
import pytest
from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

from automl.cost import CostModel
from automl.ensemble import Candidate, fold_scores, refit_seconds, select_ensemble
from automl.families import FAMILIES, Space
from automl.oof import AnswerStore, TrialAnswers
from automl.portfolio import CANDIDATES, PORTFOLIO, portfolio
from automl.predictions import fold_predictions, score_predictions
from automl.search_setup import cv_folds


def _candidate(trial: int, answers: np.ndarray, refit_s: float = 1.0) -> Candidate:
    return Candidate(trial=trial, family="linear", params={"t": trial}, answers=answers,
                     refit_s=refit_s)  # fmt: skip


@pytest.fixture
def regression() -> tuple[np.ndarray, list[Candidate]]:
    """Three models with independent errors: the average of all three beats each one."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=600)
    noisy = [_candidate(i, y + rng.normal(scale=1.0, size=600)) for i in range(3)]
    bad = _candidate(3, y + rng.normal(scale=5.0, size=600))
    return y, [*noisy, bad]


def test_caruana_averages_independent_errors_and_weighs_a_bad_model_little(
    regression: tuple[np.ndarray, list[Candidate]],
) -> None:
    y, candidates = regression
    folds = cv_folds(y, task="regression", cv=3, seed=0)
    ensemble = select_ensemble(candidates, y=y, folds=folds,
                               metric="neg_root_mean_squared_error", task="regression")  # fmt: skip
    assert ensemble is not None
    weights = ensemble.weights()
    assert {0, 1, 2} <= set(weights)
    # Independent errors: the optimum weighs by inverse variance (sd 5 -> 1/25 of the others).
    assert weights.get(3, 0.0) < 0.1 < min(weights[t] for t in (0, 1, 2))
    assert sum(weights.values()) == pytest.approx(1.0)
    blended = sum(w * candidates[t].answers for t, w in weights.items())
    expected = [-root_mean_squared_error(y[v], blended[v]) for _, v in folds]
    assert ensemble.cv_scores == pytest.approx(expected)
    singles = [-root_mean_squared_error(y, c.answers) for c in candidates[:3]]
    assert ensemble.cv_mean > max(singles) + 0.1  # averaging three errors of sd 1: ~0.58


def test_refit_time_limit_restricts_members(regression: tuple[np.ndarray, list[Candidate]]) -> None:
    y, candidates = regression
    costly = [_candidate(c.trial, c.answers, refit_s=10.0 if c.trial else 1.0)
              for c in candidates]  # fmt: skip
    folds = cv_folds(y, task="regression", cv=3, seed=0)
    # Trial 0 costs 1 s, the others 10 s (each with a refit's 0.5 s overhead, paid once by an
    # ensemble): with 12 s and one job only 0 and one more fit, in 0.5 + 9.5 + 0.5 s.
    ensemble = select_ensemble(costly, y=y, folds=folds, metric="neg_root_mean_squared_error",
                               task="regression", refit_limit_s=12.0, n_jobs=1)  # fmt: skip
    assert ensemble is not None
    assert len(ensemble.weights()) == 2 and 0 in ensemble.weights()
    assert ensemble.refit_s == pytest.approx(10.5)
    assert select_ensemble(costly, y=y, folds=folds, metric="neg_root_mean_squared_error",
                           task="regression", refit_limit_s=5.0) is None  # fmt: skip


def test_refit_seconds_in_parallel() -> None:
    assert refit_seconds([], 2) == 0
    # One member costs what its own refit estimate says.
    assert refit_seconds([3.0], 1) == 3.0
    # Members' fits (each estimate less the 0.5 s overhead) in turn, the overhead once.
    assert refit_seconds([3.0, 3.0, 3.0], 1) == pytest.approx(3 * 2.5 + 0.5)
    # Two threads do not fit twice as fast: 0.6 of it is assumed.
    assert refit_seconds([4.0, 4.0], 2) == pytest.approx(7.0 / 1.2 + 0.5)
    assert refit_seconds([9.0, 0.5, 0.5], 2) == pytest.approx(9.0)


def test_classification_blends_probabilities() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=900)
    onehot = np.eye(3)[y]

    def noisy() -> np.ndarray:
        logits = 2.0 * onehot + rng.normal(scale=1.5, size=onehot.shape)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    candidates = [_candidate(i, noisy()) for i in range(4)]
    folds = cv_folds(y, task="multiclass", cv=3, seed=0)
    ensemble = select_ensemble(candidates, y=y, folds=folds, metric="neg_log_loss",
                               task="multiclass")  # fmt: skip
    assert ensemble is not None and len(ensemble.members) >= 2
    best_single = max(-log_loss(y, c.answers) for c in candidates)
    assert ensemble.cv_mean > best_single


def test_score_predictions_matches_scikit_learn_and_keeps_overflow() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=200)
    p1 = np.clip(0.3 * y + rng.uniform(size=200) * 0.7, 0, 1)
    answers = np.column_stack([1 - p1, p1])
    assert score_predictions("roc_auc", y, answers, task="binary") == pytest.approx(
        roc_auc_score(y, p1)
    )
    big = np.full(5, 1e200)
    assert score_predictions("neg_mean_squared_error", np.zeros(5), big,
                             task="regression") == -np.inf  # fmt: skip
    one_class = np.column_stack([np.ones(5), np.zeros(5)])
    assert np.isnan(score_predictions("roc_auc", np.zeros(5, dtype=int), one_class, task="binary"))


def test_fold_predictions_fill_classes_a_fold_did_not_see() -> None:
    class TwoOfThree:
        classes_ = np.array([0, 2])

        def predict_proba(self, X: object) -> np.ndarray:
            return np.array([[0.25, 0.75], [1.0, 0.0]])

    full = fold_predictions(TwoOfThree(), None, task="multiclass", n_classes=3)  # type: ignore[arg-type]
    assert full.tolist() == [[0.25, 0.0, 0.75], [1.0, 0.0, 0.0]]


def test_trial_answers_and_store_keep_the_best() -> None:
    folds = cv_folds(np.arange(9.0), task="regression", cv=3, seed=0)
    answers = TrialAnswers(folds, 9)
    for k, (_, valid) in enumerate(folds[:2]):
        answers.add(k, valid.astype(float))
    assert not answers.complete()
    answers.add(2, folds[2][1].astype(float))
    assert answers.complete()
    assert answers.answers is not None and answers.answers.tolist() == list(np.arange(9.0))

    store = AnswerStore(keep=2, per_family=0)
    for trial, score in [(0, 0.5), (1, 0.9), (2, 0.7)]:
        store.add(score, _candidate(trial, np.zeros(3), refit_s=float(trial + 1)))
    assert [c.trial for c in store.candidates()] == [1, 2]
    # Refits of 2 s and 3 s, each with the 0.5 s overhead a refit pays once: 1.5 + 2.5 + 0.5.
    assert store.expected_refit_s(n_jobs=1) == pytest.approx(4.5)
    assert store.selection_s() == 0.0
    store.score_call_s = 0.01
    assert store.selection_s() > 0.2


def test_store_keeps_the_best_of_every_family_beyond_the_best_overall() -> None:
    store = AnswerStore(keep=2, per_family=1)
    for trial, family, score in [(0, "svm", 0.9), (1, "svm", 0.8), (2, "svm", 0.85),
                                 (3, "knn", 0.5), (4, "knn", 0.6), (5, "svm", 0.95)]:  # fmt: skip
        store.add(score, replace(_candidate(trial, np.zeros(3)), family=family))
    # The two best overall (5, 0), then knn's best (4); svm's third best (2) is not kept.
    assert [c.trial for c in store.candidates()] == [5, 0, 4]


def test_selection_scores_blends_fold_by_fold_as_acceptance_does() -> None:
    """A ranking that is near perfect within each fold but shifted between folds scores low on
    all rows pooled; selection must still prefer it, as the per-fold mean decides."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    folds = [(np.arange(200, 400), np.arange(200)), (np.arange(200), np.arange(200, 400))]
    shifted = y + 0.2 * rng.normal(size=400) + np.where(np.arange(400) >= 200, 5.0, 0.0)
    noisy = y + 0.8 * rng.normal(size=400)
    to_proba = lambda s: np.column_stack([1 - s, s])  # noqa: E731
    scale = lambda s: (s - s.min()) / (s.max() - s.min())  # noqa: E731
    candidates = [_candidate(0, to_proba(scale(shifted))), _candidate(1, to_proba(scale(noisy)))]
    per_fold = [np.mean(fold_scores(c.answers, y=y, folds=folds, metric="roc_auc", task="binary"))
                for c in candidates]  # fmt: skip
    pooled = [score_predictions("roc_auc", y, c.answers, task="binary") for c in candidates]
    assert per_fold[0] > per_fold[1] and pooled[0] < pooled[1]  # the case is what it claims
    ensemble = select_ensemble(candidates, y=y, folds=folds, metric="roc_auc", task="binary")
    assert ensemble is not None
    assert ensemble.cv_mean >= per_fold[0] - 1e-12


def test_cost_model_scales_with_size() -> None:
    costs = CostModel()
    assert costs.fold_seconds("lightgbm", {"n_estimators": 100}) is None
    assert costs.cheapest_trial_s(5) == 0.0
    costs.observe("lightgbm", {"n_estimators": 100}, 1.0)
    costs.observe("lightgbm", {"n_estimators": 200}, 2.0)
    assert costs.fold_seconds("lightgbm", {"n_estimators": 400}) == pytest.approx(4.0 * 1.2)
    costs.observe("linear", {"regularization": 1.0}, 0.5)
    assert costs.fold_seconds("linear", {"regularization": 9.0}) == pytest.approx(0.5 * 1.2)
    # The cheapest family's typical trial: linear's 0.5 s folds, x 5 folds, x 1.2.
    assert costs.cheapest_trial_s(5) == pytest.approx(3.0)


def test_cost_model_counts_the_rounds_early_stopping_kept() -> None:
    costs = CostModel()
    # 2 s for 100 of a 400-round ceiling: 0.02 s per round, a quarter of the ceiling used.
    costs.observe("xgboost", {"n_estimators": 400}, 2.0, rounds=100)
    assert costs.fold_seconds("xgboost", {"n_estimators": 2000}) == pytest.approx(1.2 * 0.02 * 500)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_portfolio_configuration_lies_in_its_family_space(task: str) -> None:
    assert set(PORTFOLIO) <= {c.name for c in CANDIDATES}
    for config in CANDIDATES:
        family = FAMILIES[config.family]
        fixed = optuna.trial.FixedTrial(config.for_task(task))  # type: ignore[arg-type]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # FixedTrial warns about values out of range
            params = family.search_space(Space(fixed, family.name), task)  # type: ignore[arg-type]
        expected = {k: v for k, v in config.params.items()
                    if task != "regression" or k != "class_weight"}  # fmt: skip
        assert params == expected, config.name


def test_portfolio_keeps_order_and_only_the_families_searched() -> None:
    configs = portfolio(["linear", "lightgbm"], "regression")
    assert [c["family"] for c in configs] == [
        FAMILIES_BY_NAME[n] for n in PORTFOLIO if FAMILIES_BY_NAME[n] in {"linear", "lightgbm"}
    ]
    assert all("lightgbm.class_weight" not in c for c in configs)


FAMILIES_BY_NAME = {c.name: c.family for c in CANDIDATES}
