"""Test-set evaluation of a trained model: metrics, curves, residuals, permutation importances.

``evaluate_model`` returns the metrics and writes two kinds of files into two folders: plot
data as CSV (``dvc plots show`` draws them) and the same plots as PNG figures (for people, the
MLflow run and the compliance report). ``bootstrap_intervals`` says how sure those numbers are.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from automl.data.task import Task
from automl.predictions import Predictions, predict, score


def classification_metrics(
    y: np.ndarray[Any, Any], proba: np.ndarray[Any, Any], classes: np.ndarray[Any, Any]
) -> dict[str, float]:
    """Scores of class probabilities; for two classes the last class is the positive one."""
    predicted = classes[np.argmax(proba, axis=1)]
    scores = {
        "accuracy": skm.accuracy_score(y, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
        "log_loss": skm.log_loss(y, proba, labels=classes),
    }
    if len(classes) == 2:
        positive = np.asarray(y) == classes[1]
        scores |= {
            "roc_auc": skm.roc_auc_score(positive, proba[:, 1]),
            "average_precision": skm.average_precision_score(positive, proba[:, 1]),
            "f1": skm.f1_score(positive, predicted == classes[1]),
            "brier": skm.brier_score_loss(positive, proba[:, 1]),
        }
    else:
        scores |= {
            "roc_auc_ovr": skm.roc_auc_score(
                y, proba, multi_class="ovr", average="weighted", labels=classes
            ),
            "f1_macro": skm.f1_score(y, predicted, average="macro"),
        }
    return {k: float(v) for k, v in scores.items()}


def regression_metrics(
    y: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]
) -> dict[str, float]:
    return {
        "rmse": float(skm.root_mean_squared_error(y, predicted)),
        "mae": float(skm.mean_absolute_error(y, predicted)),
        "r2": float(skm.r2_score(y, predicted)),
    }


def metrics_on(predictions: Predictions, *, metric: str, rows: Any = None) -> dict[str, float]:
    """The search's ``metric`` first, then the task's usual metrics, on ``rows`` (all rows when
    None). Raises ValueError where a metric is undefined on those rows."""
    if rows is None:
        rows = np.arange(len(predictions))
    predictions = predictions.encoded()  # the same scores, checked many times faster
    y = predictions.y[rows]
    value = score(metric, predictions, rows)
    if value is None:
        raise ValueError(f"{metric} is undefined on these rows")
    results = {metric: value}
    if predictions.task == "regression":
        return results | regression_metrics(y, predictions.predicted[rows])
    assert predictions.proba is not None and predictions.classes is not None
    return results | classification_metrics(y, predictions.proba[rows], predictions.classes)


_CHUNK = 50  # resamples per task: the unit of parallel work and of progress


def bootstrap_intervals(
    predictions: Predictions,
    *,
    metric: str,
    resamples: int,
    confidence: float,
    seed: int,
    n_jobs: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Percentile bootstrap intervals of every test metric: test rows drawn with replacement,
    ``resamples`` times, every metric scored on the same draws. The draws depend on ``seed``
    only, not on ``n_jobs``; ``on_progress`` hears how many resamples are done."""
    from joblib import Parallel, delayed

    encoded = predictions.encoded()
    sizes = [min(_CHUNK, resamples - start) for start in range(0, resamples, _CHUNK)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    draws: dict[str, list[float]] = {}
    skipped = 0
    chunks = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_resample)(encoded, metric, size, chunk_seed)
        for size, chunk_seed in zip(sizes, seeds, strict=True)
    )
    for size, (found, missed) in zip(sizes, chunks, strict=True):
        for name, values in found.items():
            draws.setdefault(name, []).extend(values)
        skipped += missed
        if on_progress is not None:
            on_progress(size)
    tail = (1 - confidence) / 2
    return {
        name: {
            "low": float(np.quantile(values, tail)),
            "high": float(np.quantile(values, 1 - tail)),
            "confidence": confidence,
            "resamples": len(values),
            "skipped": skipped,
        }
        for name, values in draws.items()
    }


def _resample(
    predictions: Predictions, metric: str, size: int, seed: np.random.SeedSequence
) -> tuple[dict[str, list[float]], int]:
    rng = np.random.default_rng(seed)
    n = len(predictions)
    draws: dict[str, list[float]] = {}
    skipped = 0
    for _ in range(size):
        rows = rng.integers(0, n, size=n)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the undefined draws are counted instead
                values = metrics_on(predictions, metric=metric, rows=rows)
        except ValueError:
            values = {}
        if not values or not all(np.isfinite(v) for v in values.values()):
            # A draw with a class missing has no AUC (an error, or NaN with a warning,
            # depending on the metric): it is left out, and counted.
            skipped += 1
            continue
        for name, value in values.items():
            draws.setdefault(name, []).append(value)
    return draws, skipped


def evaluate_model(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: Task,
    metric: str,
    seed: int,
    plots_dir: Path,
    figures_dir: Path,
    importance_repeats: int = 5,
) -> tuple[dict[str, float], Predictions]:
    """Score ``model`` on the test split and write plot data and figures; return the metrics
    and the predictions they were computed from."""
    import matplotlib

    matplotlib.use("Agg")
    plots_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    predictions = predict(model, X, y, task=task)
    results = metrics_on(predictions, metric=metric)
    if task == "regression":
        _residuals(y, predictions.predicted, plots_dir, figures_dir)
    else:
        assert predictions.proba is not None and predictions.classes is not None
        classes = predictions.classes
        _confusion(y, predictions.predicted, classes, plots_dir, figures_dir)
        if len(classes) == 2:
            _curves(np.asarray(y) == classes[1], predictions.proba[:, 1], plots_dir, figures_dir)
    _importances(
        model, X, y, metric=metric, seed=seed, repeats=importance_repeats, plots=plots_dir,
        figures=figures_dir,
    )  # fmt: skip
    return results, predictions


def _figure() -> Any:
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4.5), dpi=110)


def _save(figure: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _curves(
    positive: np.ndarray[Any, Any], score: np.ndarray[Any, Any], plots: Path, figures: Path
) -> None:
    fpr, tpr, _ = skm.roc_curve(positive, score)
    precision, recall, _ = skm.precision_recall_curve(positive, score)
    pd.DataFrame({"fpr": fpr, "tpr": tpr}).to_csv(plots / "roc.csv", index=False)
    pd.DataFrame({"recall": recall, "precision": precision}).to_csv(plots / "pr.csv", index=False)
    fig, ax = _figure()
    ax.plot(fpr, tpr, label=f"AUC {skm.auc(fpr, tpr):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    _save(fig, figures / "roc.png")
    fig, ax = _figure()
    ax.plot(recall, precision)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    _save(fig, figures / "pr.png")


def _confusion(
    y: pd.Series,
    predicted: np.ndarray[Any, Any],
    classes: np.ndarray[Any, Any],
    plots: Path,
    figures: Path,
) -> None:
    pd.DataFrame({"actual": np.asarray(y).astype(str), "predicted": predicted.astype(str)}).to_csv(
        plots / "confusion.csv", index=False
    )
    fig, ax = _figure()
    skm.ConfusionMatrixDisplay.from_predictions(
        np.asarray(y).astype(str), predicted.astype(str), labels=classes.astype(str), ax=ax,
        colorbar=False,
    )  # fmt: skip
    ax.set_title("Confusion matrix (test split)")
    _save(fig, figures / "confusion.png")


def _residuals(y: pd.Series, predicted: np.ndarray[Any, Any], plots: Path, figures: Path) -> None:
    actual = np.asarray(y, dtype=float)
    pd.DataFrame({"actual": actual, "predicted": predicted, "residual": actual - predicted}).to_csv(
        plots / "residuals.csv", index=False
    )
    fig, ax = _figure()
    ax.scatter(predicted, actual - predicted, s=6, alpha=0.5)
    ax.axhline(0, color="grey", linestyle="--")
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals (test split)")
    _save(fig, figures / "residuals.png")


def _importances(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    metric: str,
    seed: int,
    repeats: int,
    plots: Path,
    figures: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = permutation_importance(
            model, X, y, scoring=metric, n_repeats=repeats, random_state=seed, n_jobs=1
        )
    table = pd.DataFrame(
        {
            "feature": X.columns,
            "importance": found.importances_mean,
            "std": found.importances_std,
        }
    ).sort_values("importance", ascending=False)
    table.to_csv(plots / "importances.csv", index=False)
    top = table.head(20).iloc[::-1]
    fig, ax = _figure()
    ax.barh(top["feature"].astype(str), top["importance"], xerr=top["std"])
    ax.set(xlabel=f"drop in {metric} when shuffled", title="Permutation importances (test)")
    _save(fig, figures / "importances.png")


def group_figure(column: str, found: dict[str, Any], path: Path) -> None:
    """Bars per group of one sensitive attribute: the rates whose gaps the gates judge
    (selection rate, TPR, FPR), or mean actual and predicted values for regression. Groups
    too small to judge are drawn hatched."""
    import matplotlib

    matplotlib.use("Agg")
    groups = found["groups"]
    keys = [k for k in ("selection_rate", "tpr", "fpr") if k in groups[0]]
    keys = keys or [k for k in ("accuracy",) if k in groups[0]]
    keys = keys or ["mean_actual", "mean_predicted"]
    fig, ax = _figure()
    width = 0.8 / len(keys)
    positions = np.arange(len(groups))
    for index, key in enumerate(keys):
        values = [g.get(key) if g.get(key) is not None else np.nan for g in groups]
        bars = ax.bar(positions + index * width, values, width, label=key.replace("_", " "))
        for bar, group in zip(bars, groups, strict=True):
            if not group["in_gaps"]:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
    ax.set_xticks(positions + width * (len(keys) - 1) / 2)
    ax.set_xticklabels([f"{g['group']}\n(n={g['rows']})" for g in groups], fontsize=8)
    ax.set(title=f"By {column} (hatched: too few rows to judge)")
    if "mean_actual" not in keys:
        ax.set_ylim(0, 1.2)  # rates: room above the bars for the legend
    ax.legend(fontsize=8, loc="upper center", ncols=len(keys))
    _save(fig, path)
