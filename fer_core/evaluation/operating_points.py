"""Operating points: per-class offsets on the log-probabilities, chosen on val to reach a target.

A model's argmax is one trade between classes; fear (recall 0.52 for the default model on
PublicTest) loses most of it. Adding an offset ``b_c`` to class ``c``'s log-probability (``p_c *
exp(b_c)``, renormalised) moves the trade in the open, at a measured cost:

- ``recall`` target: the smallest offset on one class that brings its recall on val to the target
  (recall only grows with the offset: a bisection);
- ``balanced``: offsets on every class that maximise the mean of the 7 recalls (balanced accuracy),
  by coordinate ascent over a grid.

Offsets are stored in the model's card like the calibration temperature
(``python -m fer_core operating-point``), with cross-fitted before/after figures (fitted on one half
of val, measured on the other, both ways), and applied only when asked (``predict
--operating-point``, ``serve --operating-point``, a switch on the Predict page). Off by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fer_core.errors import ConfigError
from fer_core.labels import CLASSES
from fer_core.runtime.offsets import apply_offsets


OFFSET_RANGE = 8.0  # log-probability units: e^8 ~ 3,000x, beyond which a class answers everything
BALANCED_GRID = np.linspace(-2.0, 2.0, 41)
BALANCED_ROUNDS = 4
CROSS_FIT_SEED = 0


@dataclass(frozen=True)
class OperatingTarget:
    kind: str = "recall"  # or "balanced"
    class_name: str = "fear"
    value: float = 0.60

    def check(self) -> None:
        if self.kind not in ("recall", "balanced"):
            raise ConfigError(f"an operating point targets 'recall' or 'balanced', got '{self.kind}'")
        if self.kind == "recall" and self.class_name not in CLASSES:
            raise ConfigError(f"unknown class '{self.class_name}'; one of {', '.join(CLASSES)}")
        if self.kind == "recall" and not 0 < self.value < 1:
            raise ConfigError(f"a recall target is between 0 and 1, got {self.value}")

    def describe(self) -> str:
        return "balanced recall" if self.kind == "balanced" else f"{self.class_name} recall {self.value:.2f}"


def recalls(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    predicted = probabilities.argmax(axis=1)
    return np.array([(predicted[labels == c] == c).mean() if (labels == c).any() else 0.0
                     for c in range(len(CLASSES))])


def fit_offsets(labels: np.ndarray, probabilities: np.ndarray, target: OperatingTarget) -> np.ndarray:
    """The offsets (one per class) that reach ``target`` on these faces."""
    target.check()
    labels = np.asarray(labels)
    offsets = np.zeros(len(CLASSES))
    if target.kind == "recall":
        c = CLASSES.index(target.class_name)
        low, high = -OFFSET_RANGE, OFFSET_RANGE
        for _ in range(40):  # bisection to ~1e-11
            offsets[c] = (low + high) / 2
            if recalls(labels, apply_offsets(probabilities, offsets))[c] >= target.value:
                high = offsets[c]
            else:
                low = offsets[c]
        offsets[c] = high
        return offsets
    for _ in range(BALANCED_ROUNDS):
        for c in range(len(CLASSES)):
            scores = []
            for value in BALANCED_GRID:
                offsets[c] = value
                scores.append(recalls(labels, apply_offsets(probabilities, offsets)).mean())
            offsets[c] = BALANCED_GRID[int(np.argmax(scores))]
    return offsets - offsets.mean()  # only differences matter


def summary(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    predicted = probabilities.argmax(axis=1)
    per_class = recalls(labels, probabilities)
    return {"accuracy": float((predicted == labels).mean()),
            "macro_f1": float(f1_score(labels, predicted, labels=list(range(len(CLASSES))), average="macro",
                                       zero_division=0)),
            "balanced_recall": float(per_class.mean()),
            "recall": {name: float(r) for name, r in zip(CLASSES, per_class)}}


def cross_fitted(labels: np.ndarray, probabilities: np.ndarray, target: OperatingTarget) -> dict[str, Any]:
    """Fit on all of val (the offsets kept), and report before/after cross-fitted: offsets fitted on
    one seeded half and measured on the other, both ways, the two halves' figures pooled."""
    labels = np.asarray(labels)
    order = np.random.default_rng(CROSS_FIT_SEED).permutation(len(labels))
    halves = [order[: len(order) // 2], order[len(order) // 2:]]
    after = np.empty_like(probabilities, dtype=np.float64)
    for fit_on, measure_on in (halves, halves[::-1]):
        offsets = fit_offsets(labels[fit_on], probabilities[fit_on], target)
        after[measure_on] = apply_offsets(probabilities[measure_on], offsets)
    offsets = fit_offsets(labels, probabilities, target)
    return {"target": asdict(target), "target_words": target.describe(),
            "offsets": {name: float(b) for name, b in zip(CLASSES, offsets)},
            "before": summary(labels, probabilities), "after_cross_fitted": summary(labels, after)}


def tradeoff_curve(labels: np.ndarray, probabilities: np.ndarray, class_name: str,
                   targets: np.ndarray | None = None) -> list[dict[str, float]]:
    """For each recall target of ``class_name`` (fitted on these faces): the recall reached, accuracy
    and macro-F1: what each point of that class's recall costs the rest."""
    rows = []
    base = recalls(np.asarray(labels), probabilities)[CLASSES.index(class_name)]
    for value in targets if targets is not None else np.round(np.arange(0.05, 0.96, 0.05), 2):
        offsets = fit_offsets(labels, probabilities, OperatingTarget("recall", class_name, float(value)))
        moved = apply_offsets(probabilities, offsets)
        figures = summary(np.asarray(labels), moved)
        rows.append({"target": float(value), "recall": figures["recall"][class_name], "accuracy": figures["accuracy"],
                     "macro_f1": figures["macro_f1"], "offset": float(offsets[CLASSES.index(class_name)]),
                     "unchanged": bool(value <= base)})
    return rows
