"""What a model does on a dataset split, beyond accuracy: predictions cached on disk, the most
confused class pairs, confidence of right and wrong answers, and calibration.

Predictions are cached under the dataset cache folder by (the model file's SHA-256, the dataset's
content key, split, TTA), so a second look at the same model and split is instant and survives
a server restart; a changed model file or dataset is a new entry.

Calibration: expected calibration error (ECE, 15 equal-width confidence bins), negative
log-likelihood (NLL) and the Brier score; ``fit_temperature`` finds the temperature T that
minimises NLL (probabilities become softmax(log p / T)), the classic one-parameter fix for an
over- or under-confident network (Guo et al., 2017).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data.dataset import FERDataset, LoadOptions
from fer_core.data.cache import content_key
from fer_core.settings import default_cache_dir
from fer_core.fileio import atomic_path, file_sha256
from fer_core.labels import CLASSES

CALIBRATION_BINS = 15
EPSILON = 1e-12


def predictions_cache_file(model_path: Path, dataset_path: Path, split: str, tta: str,
                           cache_dir: Path | None = None) -> Path:
    key = hashlib.sha256(f"{file_sha256(model_path)}|{content_key(Path(dataset_path), LoadOptions())}|{split}|"
                         f"{tta}".encode()).hexdigest()[:32]
    return Path(cache_dir or default_cache_dir()) / "predictions" / f"{key}.npz"


def cached_probabilities(model_path: str | os.PathLike, dataset_path: str | os.PathLike, dataset: FERDataset,
                         split: str, tta: str = "none", cache_dir: str | os.PathLike | None = None,
                         progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The model's class probabilities on the split, from the disk cache or computed (and stored)."""
    from fer_core.runtime.model import predict_probabilities
    from fer_core.runtime.loading import load_model

    part = dataset.split(split)
    path = predictions_cache_file(Path(model_path), Path(dataset_path), split, tta,
                                  Path(cache_dir) if cache_dir else None)
    try:
        with np.load(path, allow_pickle=False) as stored:
            if stored["probabilities"].shape == (len(part), len(CLASSES)):
                return stored["probabilities"]
    except (OSError, ValueError, KeyError):
        pass  # not cached yet, or damaged: compute it again
    model = load_model(model_path, tta=tta)
    chunk, chunks = 512, []
    for start in range(0, len(part), chunk):
        chunks.append(predict_probabilities(model, part.images[start:start + chunk]))
        if progress:
            progress(min(start + chunk, len(part)), len(part))
    probabilities = np.concatenate(chunks) if chunks else np.zeros((0, len(CLASSES)))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, probabilities=probabilities)
    except OSError:
        pass  # an unwritable cache only costs time
    return probabilities


def confused_pairs(confusion: list[list[int]] | np.ndarray, top: int | None = None) -> list[dict[str, Any]]:
    """Off-diagonal cells of a confusion matrix (rows: true class), most images first, each with its
    share of the true class ("fear taken for sad: 120, 24% of fear")."""
    matrix = np.asarray(confusion)
    totals = matrix.sum(axis=1)
    pairs = [{"true": CLASSES[i], "predicted": CLASSES[j], "count": int(matrix[i, j]),
              "share_of_true": float(matrix[i, j] / totals[i]) if totals[i] else 0.0}
             for i in range(len(matrix)) for j in range(len(matrix)) if i != j and matrix[i, j] > 0]
    pairs.sort(key=lambda p: (-p["count"], -p["share_of_true"]))
    return pairs[:top] if top else pairs


def confidence_by_correctness(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top-class confidence of the right answers and of the wrong ones."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    return confidence[right], confidence[~right]


def calibration_report(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """ECE, NLL, Brier score and the reliability diagram's bins (mean confidence, accuracy, count)."""
    labels = np.asarray(labels)
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, 1.0)
    n = len(labels)
    confidence = probabilities.max(axis=1)
    right = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        if count:
            gap = abs(right[inside].mean() - confidence[inside].mean())
            ece += count / n * gap
            table.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
                          "confidence": float(confidence[inside].mean()), "accuracy": float(right[inside].mean())})
    one_hot = np.eye(probabilities.shape[1])[labels]
    return {"n": n, "ece": float(ece), "nll": float(-np.mean(np.log(probabilities[np.arange(n), labels]))) if n else 0.0,
            "brier": float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1))) if n else 0.0,
            "bins": table}


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): T > 1 softens over-confident probabilities, T < 1 sharpens them."""
    logits = np.log(np.clip(probabilities, EPSILON, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises NLL (golden-section search on log T; NLL is
    convex in 1/T, so one minimum)."""
    def nll(log_t: float) -> float:
        scaled = apply_temperature(probabilities, math.exp(log_t))
        return float(-np.mean(np.log(np.clip(scaled[np.arange(len(labels)), labels], EPSILON, 1.0))))

    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(b)
    return round(math.exp((low + high) / 2), 4)


def cross_fitted_calibration(labels: np.ndarray, probabilities: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Calibration before and after temperature scaling, the temperature fitted on one half of the
    split and measured on the other (both ways, averaged), so the 'after' is not measured on the
    data it was fitted on; and the temperature fitted on the whole split (what gets stored)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    halves = [order[: len(order) // 2], order[len(order) // 2:]]
    after = []
    for fit, check in (halves, halves[::-1]):
        t = fit_temperature(labels[fit], probabilities[fit])
        after.append(calibration_report(labels[check], apply_temperature(probabilities[check], t)))
    before = calibration_report(labels, probabilities)
    return {"temperature": fit_temperature(labels, probabilities),
            "before": {k: before[k] for k in ("ece", "nll", "brier")},
            "after_cross_fitted": {k: float(np.mean([a[k] for a in after])) for k in ("ece", "nll", "brier")}}


def calibrate_model(model: str | os.PathLike, data: str | os.PathLike, split: str = "val",
                    strict: bool = False, cache_dir: str | os.PathLike | None = None) -> tuple[dict[str, Any], Path]:
    """Fit a temperature on ``split`` of ``data`` and store it, with the cross-fitted before/after
    figures, in the model's card (created if the model has none); ``predict``, ``predict_photos``
    and the Predict page then apply it. Returns the report and the card's path."""
    from fer_core.data.loaders import existing_dataset_path, load_dataset
    from fer_core.runtime.cards import ModelCard
    from fer_core.runtime.loading import existing_model_path

    existing_dataset_path(data)
    path = existing_model_path(model, keras_only=True)
    dataset = load_dataset(data, LoadOptions(strict=strict), cache_dir=cache_dir)
    labels = dataset.split(split).labels
    report = cross_fitted_calibration(labels, cached_probabilities(path, data, dataset, split, cache_dir=cache_dir))
    card = ModelCard.read(path).named(path.stem).with_temperature(
        report, split, str(data), f"python -m fer_core calibrate {model} --data {data} --split {split}")
    return report, card.write(path)


def calibrated_split_probabilities(path: Path, data: str | os.PathLike, dataset: FERDataset, split: str,
                                   tta: str, cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """A split's cached probabilities with ``tta`` and the card's temperature (``ModelCard.temperature``):
    with the TTA the card ranks best, what ``predict`` answers, and so what operating-point offsets
    are fitted on."""
    from fer_core.runtime.cards import ModelCard

    probabilities = cached_probabilities(path, data, dataset, split, tta, cache_dir=cache_dir)
    temperature = ModelCard.read(path).temperature
    return probabilities if temperature is None else apply_temperature(probabilities, temperature)


def store_operating_point(model: str | os.PathLike, data: str | os.PathLike, target, split: str = "val",
                          strict: bool = False, cache_dir: str | os.PathLike | None = None):
    """Fit operating-point offsets (``fer_core.evaluation.operating_points``) for ``target`` on
    ``split`` of ``data`` and store them in the model's card with their cross-fitted before/after
    figures; ``predict --operating-point`` and the Predict page then apply them. Returns the
    ``OperatingPoint`` and the card's path."""
    from fer_core.data.loaders import existing_dataset_path, load_dataset
    from fer_core.evaluation.operating_points import cross_fitted
    from fer_core.runtime.cards import ModelCard, OperatingPoint
    from fer_core.runtime.loading import existing_model_path

    target.check()
    existing_dataset_path(data)
    path = existing_model_path(model, keras_only=True)
    dataset = load_dataset(data, LoadOptions(strict=strict), cache_dir=cache_dir)
    labels = dataset.split(split).labels
    card = ModelCard.read(path)
    tta = card.best_tta()
    report = cross_fitted(labels, calibrated_split_probabilities(path, data, dataset, split, tta, cache_dir), target)
    how = f"python -m fer_core operating-point {model} --data {data} --split {split} " + (
        "--balanced" if target.kind == "balanced" else f"--class {target.class_name} --recall {target.value}")
    point = OperatingPoint.fitted(report, split, str(data), tta, how)
    return point, card.named(path.stem).with_operating_point(point).write(path)


def comparison_row(label: str, labels: np.ndarray, probabilities: np.ndarray, split_name: str) -> dict[str, Any]:
    """One model's row in Results' "Compare models" table: accuracy and macro-F1 with their 95%
    intervals, the expected calibration error and each class's recall with its interval."""
    from fer_core.evaluation.metrics import compute_metrics
    from fer_core.evaluation.statistics import with_interval

    metrics = compute_metrics(labels, probabilities, split_name)
    intervals = metrics["intervals"]
    return {"model": label, "accuracy": with_interval(metrics["accuracy"], intervals["accuracy"]),
            "macro-F1": with_interval(metrics["macro_f1"], intervals["macro_f1"], percent=False),
            "ECE": round(calibration_report(labels, probabilities)["ece"], 4),
            **{f"recall {c}": with_interval(metrics["per_class"][c]["recall"], intervals["per_class"][c]["recall"],
                                            percent=False) for c in CLASSES}}
