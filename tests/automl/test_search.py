"""The search engine: failures recorded, budgets, resume after a kill, observers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest

from automl.config import SearchParams
from automl.events import SearchEnd, SearchObserver, SearchStart, TrialRecord
from automl.families import FAMILIES, register_family
from automl.portfolio import portfolio
from automl.search import SearchError, run_search
from tests.automl.plugin_families import PLUGINS
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True, scope="module")
def plugins() -> Iterator[None]:
    for family in PLUGINS:
        register_family(family)
    yield
    for family in PLUGINS:
        FAMILIES.pop(family.name)


@pytest.fixture(scope="module")
def data(credit: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    sample = credit.sample(600, random_state=0).reset_index(drop=True)
    return sample.drop(columns="Status"), sample["Status"]


def settings(**overrides: object) -> SearchParams:
    base: dict[str, object] = {"time_budget_s": None, "n_trials": 6, "seed": 0}
    return SearchParams.model_validate(base | overrides)


class Recorder(SearchObserver):
    def __init__(self) -> None:
        self.start: SearchStart | None = None
        self.trials: list[TrialRecord] = []
        self.end: SearchEnd | None = None

    def on_search_start(self, start: SearchStart) -> None:
        self.start = start

    def on_trial_end(self, record: TrialRecord, best: TrialRecord | None) -> None:
        self.trials.append(record)

    def on_search_end(self, end: SearchEnd) -> None:
        self.end = end


def test_failing_families_are_recorded_and_the_search_goes_on(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = data
    recorder = Recorder()
    result = run_search(
        X, y, task="binary", cv=3, observers=[recorder],
        settings=settings(n_trials=10, families=["test_broken", "test_nan", "linear"]),
    )  # fmt: skip
    reasons = {r.family: r.reason for r in result.records if r.state == "FAIL"}
    assert "ValueError: this family always fails to fit" in reasons["test_broken"]
    assert "not finite numbers (NaN or infinity)" in reasons["test_nan"]
    assert result.best.family == "linear"
    assert len(recorder.trials) == 10
    assert recorder.start is not None and recorder.start.families[0] == "test_broken"
    assert recorder.end is not None and recorder.end.n_failed == len(
        [r for r in result.records if r.state == "FAIL"]
    )
    board = result.leaderboard()
    assert board.iloc[0]["state"] == "COMPLETE"
    assert (board[board.state == "FAIL"].reason != "").all()


def test_a_non_finite_score_is_a_failed_trial(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _y = data
    result = run_search(
        X.drop(columns="Amount"), X["Amount"].astype(float), task="regression", cv=3,
        settings=settings(n_trials=5, families=["test_overflow", "linear"]),
    )  # fmt: skip
    overflow = [r for r in result.records if r.family == "test_overflow"]
    assert overflow
    assert all("is -inf, not a number" in (r.reason or "") for r in overflow)


def test_out_of_memory_is_a_failed_trial_not_a_crash(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    result = run_search(
        X, y, task="binary", cv=3,
        settings=settings(n_trials=4, families=["test_hungry", "linear"], memory_limit_mb=2048),
    )  # fmt: skip
    hungry = [r for r in result.records if r.family == "test_hungry"]
    assert hungry, "the sampler never chose the hungry family"
    assert all(r.state == "FAIL" and "out of memory" in (r.reason or "") for r in hungry)
    assert result.best.family == "linear"


def test_a_trial_over_its_time_limit_is_stopped(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    started = time.monotonic()
    result = run_search(
        X, y, task="binary", cv=3,
        settings=settings(n_trials=4, families=["test_sleepy", "linear"], trial_time_limit_s=2),
    )  # fmt: skip
    sleepy = [r for r in result.records if r.family == "test_sleepy"]
    assert sleepy
    assert all("time limit" in (r.reason or "") for r in sleepy)
    assert time.monotonic() - started < 4 * 2 + 20


def test_a_trial_expected_to_overrun_is_not_started(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    result = run_search(
        X, y, task="binary", cv=3,
        settings=settings(n_trials=12, families=["test_slow"], trial_time_limit_s=2.6),
    )  # fmt: skip
    refused = [r for r in result.records if (r.reason or "").startswith("not started: expected")]
    ran = [r for r in result.records if r.fit_time_s > 0]
    # 3 units x 0.25 s x 3 folds = 2.25 s, x 1.2 margin = 2.7 s > 2.6 s: only size 3 is refused.
    assert refused and all(r.params["n_estimators"] == 3 for r in refused)
    assert all(r.fit_time_s == 0 for r in refused)
    assert {r.params["n_estimators"] for r in ran} & {1, 2}
    assert not [r for r in result.records if "time limit" in (r.reason or "")]


def test_a_trial_that_cannot_finish_in_time_stops_after_its_first_fold(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    """At 1 s a fold, three folds do not fit in a 2.5 s limit: the first fold says so (2 s
    more needed, about 1.4 s left), and the trial stops there instead of being killed at the
    limit; later ones are not started."""
    X, y = data
    result = run_search(
        X, y, task="binary", cv=3,
        settings=settings(n_trials=8, families=["test_plodding", "linear"],
                          trial_time_limit_s=2.5, n_jobs=1, pruning=False),
    )  # fmt: skip
    plodding = [r for r in result.records if r.family == "test_plodding"]
    first, *later = sorted(plodding, key=lambda r: r.number)
    assert first.state == "PRUNED" and len(first.cv_scores) == 1
    assert (first.reason or "").startswith("stopped: expected to need 2.")
    assert first.duration_s < 2.3  # not the 2.5 s limit
    assert later and all((r.reason or "").startswith("not started: expected") for r in later)
    assert not [r for r in result.records if "time limit" in (r.reason or "")]


def test_portfolio_runs_first_and_is_not_queued_again_on_resume(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    families = ["linear", "lightgbm"]
    expected = portfolio(families, "binary")
    common = {"storage": f"sqlite:///{tmp_path / 's.db'}", "study_name": "p", "families": families}
    first = run_search(X, y, task="binary", cv=3, settings=settings(n_trials=len(expected) + 1,
                                                                    **common))  # fmt: skip
    trials = first.study.trials
    assert [t.params for t in trials[: len(expected)]] == expected
    second = run_search(X, y, task="binary", cv=3, settings=settings(n_trials=len(expected) + 3,
                                                                     **common))  # fmt: skip
    assert second.new_trials == 2
    params = [t.params for t in second.study.trials]
    assert all(params.count(config) == 1 for config in expected)
    off = run_search(X, y, task="binary", cv=3,
                     settings=settings(n_trials=3, families=families, portfolio=False))  # fmt: skip
    assert [t.params for t in off.study.trials][: len(expected)] != expected


def test_the_ensemble_beats_the_best_trial_or_is_not_used(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = data
    recorder = Recorder()
    families = ["linear", "lightgbm", "knn"]
    result = run_search(X, y, task="binary", cv=3, observers=[recorder],
                        settings=settings(n_trials=10, families=families, stack=False))  # fmt: skip
    ensemble = result.ensemble
    assert ensemble is not None  # seeded: this search's ensemble does beat its best trial
    assert recorder.end is not None and recorder.end.ensemble is ensemble
    assert ensemble.cv_mean > (result.best.cv_mean or 0)
    assert len(ensemble.cv_scores) == 3
    complete = {r.number for r in result.records if r.state == "COMPLETE"}
    assert set(ensemble.weights()) <= complete and len(ensemble.members) >= 2
    assert sum(ensemble.weights().values()) == pytest.approx(1.0)
    board = result.leaderboard()
    assert board.iloc[0]["state"] == "ENSEMBLE"
    assert board.iloc[0]["cv_mean"] == pytest.approx(ensemble.cv_mean)
    weights = board.dropna(subset=["trial"]).set_index("trial")["ensemble_weight"]
    assert {int(t): w for t, w in weights.items() if w > 0} == pytest.approx(ensemble.weights())
    off = settings(n_trials=10, families=families, ensemble=False)
    single = run_search(X, y, task="binary", cv=3, settings=off)
    assert single.ensemble is None
    assert "ENSEMBLE" not in set(single.leaderboard()["state"])


def test_a_second_level_is_kept_when_it_beats_the_first_on_cv(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = data
    families = ["linear", "lightgbm", "knn"]
    first = run_search(X, y, task="binary", cv=3,
                       settings=settings(n_trials=10, families=families, stack=False))  # fmt: skip
    result = run_search(X, y, task="binary", cv=3,
                        settings=settings(n_trials=10, families=families))  # fmt: skip
    stacked = result.ensemble
    assert first.ensemble is not None and stacked is not None
    assert stacked.second  # seeded: the second level does beat the first on these folds
    assert stacked.cv_mean > first.ensemble.cv_mean
    weights = [m.weight for m in (*stacked.members, *stacked.second)]
    assert sum(weights) == pytest.approx(1.0)
    complete = {r.number for r in result.records if r.state == "COMPLETE"}
    assert {m.trial for m in (*stacked.inputs, *stacked.second)} <= complete
    assert result.input_answers is not None and len(result.input_answers) == len(stacked.inputs)
    assert all(len(a) == len(X) for a in result.input_answers)
    row = result.leaderboard().iloc[0]
    assert row["state"] == "ENSEMBLE" and "on level 1" in row["params"]


def test_every_trial_failing_says_why(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    with pytest.raises(SearchError, match="all 3 trials failed.*3 x ValueError: this family"):
        run_search(
            X, y, task="binary", cv=3, settings=settings(n_trials=3, families=["test_broken"])
        )


def test_skipped_families_appear_in_the_leaderboard(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data
    result = run_search(
        X, y, task="binary", cv=3, settings=settings(n_trials=2, families=["test_nan", "linear"])
    )
    assert result.skipped == {}
    regression = run_search(
        X.drop(columns="Amount"), X["Amount"].astype(float), task="regression", cv=3,
        settings=settings(n_trials=2, families=["test_nan", "linear"]),
    )  # fmt: skip
    assert regression.skipped == {"test_nan": "test_nan does not support regression tasks"}
    assert "test_nan" not in {r.family for r in regression.records}
    board = regression.leaderboard()
    assert board.iloc[-1]["state"] == "SKIPPED"


def test_raising_n_trials_continues_the_study(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = {"storage": storage, "study_name": "grow", "families": ["linear", "lightgbm"]}
    first = run_search(X, y, task="binary", cv=3, settings=settings(n_trials=4, **common))
    first_values = {t.number: t.value for t in first.study.trials}
    second = run_search(X, y, task="binary", cv=3, settings=settings(n_trials=7, **common))
    assert second.new_trials == 3
    assert len(second.study.trials) == 7
    assert {t.number: t.value for t in second.study.trials[:4]} == first_values
    third = run_search(X, y, task="binary", cv=3, settings=settings(n_trials=7, **common))
    assert third.new_trials == 0
    assert third.stopped_by == "n_trials reached before this run"


KILLABLE = textwrap.dedent(
    """
    import sys
    from automl.config import SearchParams
    from automl.data import load_demo
    from automl.search import run_search

    frame = load_demo().sample(600, random_state=0).reset_index(drop=True)
    settings = SearchParams(
        time_budget_s=None, n_trials=200, seed=0, storage=sys.argv[1], study_name="killed",
        families=["linear", "lightgbm"],
    )
    run_search(frame.drop(columns="Status"), frame["Status"], task="binary", cv=3,
               settings=settings)
    """
)


def test_resume_after_sigkill_keeps_completed_trials(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'killed.db'}"
    script = tmp_path / "search.py"
    script.write_text(KILLABLE)
    process = subprocess.Popen(
        [sys.executable, str(script), storage], cwd=REPO_ROOT, start_new_session=True,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        done: list[optuna.trial.FrozenTrial] = []
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                study = optuna.load_study(study_name="killed", storage=storage)
            except KeyError:
                continue
            done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
            if len(done) >= 4:
                break
        assert len(done) >= 4, "the search made no progress before the kill"
    finally:
        # SIGKILL the whole group: the search and its trial workers, as a crash would.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = optuna.load_study(study_name="killed", storage=storage)
    kept = {t.number: t.value for t in before.trials if t.state.name == "COMPLETE"}
    total_before = len(before.trials)
    cut_off = [t.number for t in before.trials if t.state.name == "RUNNING"]
    from automl.data import load_demo

    sample = load_demo().sample(600, random_state=0).reset_index(drop=True)
    resumed = run_search(
        sample.drop(columns="Status"), sample["Status"], task="binary", cv=3,
        settings=settings(n_trials=total_before + 3, storage=storage, study_name="killed",
                          families=["linear", "lightgbm"]),
    )  # fmt: skip
    after = {t.number: t for t in resumed.study.trials}
    assert {n: after[n].value for n in kept} == kept
    assert not [t for t in resumed.study.trials if t.state.name == "RUNNING"]
    for number in cut_off:  # the trial the kill interrupted (if one was running) is failed
        assert after[number].state.name == "FAIL"
        assert "interrupted" in after[number].user_attrs["reason"]
    assert len(resumed.records) == total_before + 3
    assert resumed.new_trials == 3
