"""How sure a figure is: 95% intervals for every metric, and paired comparisons of two models.

On PublicTest's 3,589 faces an accuracy near 71% is only known to about +-1.5 points, and fear
recall (496 faces) to about +-4; a 0.4-point gap between two models is inside that noise unless a
paired test on the same faces says otherwise. So every figure gets an interval:

- accuracy, precision and recall are proportions: **Wilson score intervals** (``scipy.stats.binomtest``
  ... ``proportion_ci(method="wilson")``), exact enough at these sizes and never outside [0, 1];
- F1 and macro-F1 are not: a **seeded percentile bootstrap over faces** (``scipy.stats.bootstrap``,
  1,000 resamples, seed 0), resampling (true, predicted) pairs.

Both are computed from the confusion matrix alone, so every ``metrics.json`` and card, old ones
included, gets its intervals without the predictions.

Two models on the same faces (``paired_comparison``): the accuracy difference with a paired
bootstrap interval, and **McNemar's exact test** (a two-sided binomial test on the faces exactly one
of them gets right), overall and per true class (a recall difference).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fer_core.labels import CLASSES

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
METHOD = ("95% intervals: Wilson score for accuracy, precision and recall; a seeded percentile bootstrap "
          "over faces (1,000 resamples, seed 0) for F1 and macro-F1")


def intervals_of(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """A ``metrics.json`` or card's ``publictest_metrics`` intervals: its own, else from its confusion
    matrix (cards written before intervals existed); None without either."""
    if metrics.get("intervals"):
        return metrics["intervals"]
    return metric_intervals(metrics["confusion_matrix"]) if metrics.get("confusion_matrix") else None


def wilson(successes: int, trials: int) -> list[float] | None:
    """The 95% Wilson interval of a proportion, [low, high]; None for no trials."""
    if trials <= 0:
        return None
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(CONFIDENCE, method="wilson")
    return [float(interval.low), float(interval.high)]


def _f1_scores(y_true: np.ndarray, y_pred: np.ndarray, axis: int = -1) -> np.ndarray:
    """[macro-F1, F1 of each class] along ``axis`` (vectorised over bootstrap resamples)."""
    scores = []
    for c in range(len(CLASSES)):
        tp = ((y_true == c) & (y_pred == c)).sum(axis=axis)
        wrong = ((y_true != c) & (y_pred == c)).sum(axis=axis) + ((y_true == c) & (y_pred != c)).sum(axis=axis)
        scores.append(np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0))
    scores = np.stack(scores)
    return np.concatenate([scores.mean(axis=0)[None], scores])


def pairs_from_confusion(confusion: list[list[int]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (true, predicted) label of every face a confusion matrix counts (rows: true class)."""
    matrix = np.asarray(confusion, dtype=int)
    true, predicted = np.indices(matrix.shape)
    return np.repeat(true.ravel(), matrix.ravel()), np.repeat(predicted.ravel(), matrix.ravel())


def metric_intervals(confusion: list[list[int]] | np.ndarray) -> dict[str, Any]:
    """``{"method", "accuracy": [lo, hi], "macro_f1": [lo, hi], "per_class": {name: {"precision",
    "recall", "f1"}}}`` for the metrics ``compute_metrics`` reports from this confusion matrix."""
    matrix = np.asarray(confusion, dtype=int)
    y_true, y_pred = pairs_from_confusion(matrix)
    f1 = _bootstrap_f1(y_true, y_pred)
    return {
        "method": METHOD,
        "accuracy": wilson(np.trace(matrix), matrix.sum()),
        "macro_f1": f1[0],
        "per_class": {name: {"precision": wilson(matrix[i, i], matrix[:, i].sum()),
                             "recall": wilson(matrix[i, i], matrix[i].sum()),
                             "f1": f1[i + 1]} for i, name in enumerate(CLASSES)},
    }


def _bootstrap_f1(y_true: np.ndarray, y_pred: np.ndarray) -> list[list[float] | None]:
    if len(y_true) < 2:
        return [None] * (len(CLASSES) + 1)
    result = stats.bootstrap((y_true, y_pred), _f1_scores, paired=True, vectorized=True, batch=100,
                             n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
                             rng=BOOTSTRAP_SEED)
    low, high = result.confidence_interval
    return [[float(lo), float(hi)] for lo, hi in zip(np.atleast_1d(low), np.atleast_1d(high))]


def with_interval(value: float, interval: list[float] | None, percent: bool = True) -> str:
    """'70.99% (69.50-72.46)' or '0.694 (0.679-0.709)': a figure as people read it."""
    if percent:
        text = f"{100 * value:.2f}%"
        return text if not interval else f"{text} ({100 * interval[0]:.2f}-{100 * interval[1]:.2f})"
    text = f"{value:.3f}"
    return text if not interval else f"{text} ({interval[0]:.3f}-{interval[1]:.3f})"


def interval_words(interval: list[float] | None, percent: bool = True) -> str | None:
    """'95%: 69.49-72.46' (None without an interval): the line under a figure on the pages."""
    if not interval:
        return None
    scale, digits = (100, 2) if percent else (1, 3)
    return f"95%: {scale * interval[0]:.{digits}f}-{scale * interval[1]:.{digits}f}"


def mcnemar_exact(only_a_right: int, only_b_right: int) -> float:
    """McNemar's exact test: the two-sided binomial p-value of the faces exactly one model gets
    right splitting as they did, if either model were as likely to be the one (1.0 with none)."""
    discordant = only_a_right + only_b_right
    return 1.0 if discordant == 0 else float(stats.binomtest(only_a_right, discordant, 0.5).pvalue)


def paired_comparison(labels: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray) -> dict[str, Any]:
    """Model B against model A on the same faces: overall and per true class, the difference in
    accuracy (per class: recall) B - A with its 95% paired-bootstrap interval, the faces only A and
    only B get right, and McNemar's exact p-value (below 0.05: a real difference at that level)."""
    labels = np.asarray(labels)
    right_a, right_b = np.asarray(predicted_a) == labels, np.asarray(predicted_b) == labels

    def compare(mask: np.ndarray) -> dict[str, Any]:
        a, b = right_a[mask], right_b[mask]
        only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
        difference = float(b.mean() - a.mean()) if len(a) else 0.0
        interval = None
        if len(a) >= 2 and (only_a or only_b):
            result = stats.bootstrap(((b.astype(float) - a.astype(float)),), np.mean, vectorized=True,
                                     n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=CONFIDENCE,
                                     method="percentile", rng=BOOTSTRAP_SEED)
            interval = [float(result.confidence_interval.low), float(result.confidence_interval.high)]
        elif len(a):
            interval = [0.0, 0.0]
        p_value = mcnemar_exact(only_a, only_b)
        return {"n": int(mask.sum()), "a": float(a.mean()) if len(a) else 0.0, "b": float(b.mean()) if len(b) else 0.0,
                "difference": difference, "interval": interval, "only_a_right": only_a, "only_b_right": only_b,
                "p_value": p_value, "significant": p_value < 1 - CONFIDENCE}

    return {"overall": compare(np.ones(len(labels), dtype=bool)),
            "per_class": {name: compare(labels == k) for k, name in enumerate(CLASSES)},
            "method": "difference B - A with a 95% paired bootstrap interval over faces (1,000 resamples, seed 0); "
                      "McNemar's exact test on the faces exactly one model gets right"}


def verdict(row: dict) -> str:
    """One line for one row of ``paired_comparison``: the difference, its interval, McNemar's p, and what it means."""
    interval = row["interval"] or [0.0, 0.0]
    change = (f"{100 * row['difference']:+.2f} points ({100 * interval[0]:+.2f} to {100 * interval[1]:+.2f}); "
              f"{row['only_b_right']} faces only it gets right, {row['only_a_right']} only the other; "
              f"McNemar p = {row['p_value']:.3g}: ")
    return change + ("a real difference at the 5% level." if row["significant"] else
                     "not distinguishable from chance on these faces.")


def comparison_table(comparison: dict) -> list[dict]:
    """``paired_comparison`` as table rows: overall, then per true class."""
    rows = []
    for name, row in [("all (accuracy)", comparison["overall"]),
                      *((f"{c} (recall)", r) for c, r in comparison["per_class"].items())]:
        interval = row["interval"] or [0.0, 0.0]
        rows.append({"faces": name, "n": row["n"], "difference (points)": round(100 * row["difference"], 2),
                     "95% interval": f"{100 * interval[0]:+.2f} to {100 * interval[1]:+.2f}",
                     "only this one right": row["only_b_right"], "only the first right": row["only_a_right"],
                     "McNemar p": round(row["p_value"], 4), "real at 5%": "yes" if row["significant"] else "no"})
    return rows


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value): runs across seeds."""
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0
