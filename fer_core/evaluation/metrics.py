"""Metrics and reports: accuracy, macro-F1, per-class scores, confusion matrix, mistakes, samples.

Metrics come from scikit-learn. ``write_report`` produces the files the CLI and the dashboard
read: ``metrics.json`` (fixed shape, see ``compute_metrics``), ``misclassified.csv`` and
``samples.png``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from fer_core.labels import CLASSES
from fer_core.data.dataset import Split
from fer_core.fileio import atomic_path, write_json_atomic, write_text_atomic
from fer_core.runtime.model import predict_probabilities
from fer_core.evaluation.statistics import metric_intervals, wilson
from fer_core.run_files import METRICS_FILE


@dataclass(frozen=True)
class Figures:
    """``compute_metrics``'s report (or a card's ``publictest_metrics``), typed for readers: the
    pages ask for a figure and its 95% interval by name and never spell the report's paths.
    ``data``: the JSON as written (``metrics.json``)."""

    data: Mapping[str, Any]

    @property
    def split(self) -> str:
        return str(self.data.get("split", "?"))

    @property
    def n(self) -> int:
        return int(self.data.get("n", 0))

    @property
    def accuracy(self) -> float:
        return float(self.data.get("accuracy", float("nan")))

    @property
    def macro_f1(self) -> float:
        return float(self.data.get("macro_f1", float("nan")))

    @property
    def method(self) -> str:
        return str(self._intervals.get("method", ""))

    @property
    def confusion(self) -> list[list[int]]:
        return self.data["confusion_matrix"]

    @property
    def classes(self) -> list[str]:
        return list(self.data.get("per_class", {}))

    def interval(self, name: str) -> tuple[float, float] | None:
        """The 95% interval of 'accuracy' or 'macro_f1' (None when unmeasured)."""
        return self._intervals.get(name)

    def recall(self, class_name: str) -> float:
        return float(self.data.get("per_class", {}).get(class_name, {}).get("recall", float("nan")))

    def recall_interval(self, class_name: str) -> tuple[float, float] | None:
        return self._intervals.get("per_class", {}).get(class_name, {}).get("recall")

    @property
    def _intervals(self) -> Mapping[str, Any]:
        return self.data.get("intervals") or {}


def compute_metrics(y_true: np.ndarray, probabilities: np.ndarray, split_name: str) -> dict[str, Any]:
    """``{"split", "n", "classes", "accuracy", "macro_f1", "per_class", "confusion_matrix", "intervals"}``.

    ``confusion_matrix`` rows are the true class, columns the predicted class; ``intervals`` holds
    the 95% interval of every figure (``fer_core.evaluation.statistics.metric_intervals``).
    """
    labels = list(range(len(CLASSES)))
    y_pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    confusion = confusion_matrix(y_true, y_pred, labels=labels).astype(int).tolist()
    return {
        "split": split_name,
        "n": int(len(y_true)),
        "classes": list(CLASSES),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(CLASSES)
        },
        "confusion_matrix": confusion,
        "intervals": metric_intervals(confusion),
    }


def ferplus_agreement(votes, files: list[str], probabilities: np.ndarray) -> dict[str, Any]:
    """``data.ferplus.agreement`` of a model's answers, with the agreement's 95% Wilson interval
    (``agreement_95``): what ``evaluate --ferplus`` prints and the Results page shows."""
    from fer_core.data.ferplus import agreement

    result = agreement(votes, files, probabilities.argmax(axis=1))
    return {**result, "agreement_95": wilson(result["agreeing"], result["faces"])}


def per_class_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per-class precision, recall, F1 (each with its 95% interval) and support, a row per class."""
    intervals = metrics["intervals"]["per_class"]
    rows = {}
    for name, scores in metrics["per_class"].items():
        row = {}
        for key in ("precision", "recall", "f1"):
            low, high = intervals[name][key] or (None, None)
            row.update({key: scores[key], f"{key} 95% low": low, f"{key} 95% high": high})
        rows[name] = {**row, "support": scores["support"]}
    return pd.DataFrame(rows).T.rename_axis("class")


def metrics_without_copies(y_true: np.ndarray, probabilities: np.ndarray, split_name: str,
                           has_copy: np.ndarray) -> dict[str, Any]:
    """``compute_metrics`` on the faces that have no exact or near copy in Training
    (``fer_core.data.stats.copies_in``), with ``left_out``: how many were not counted."""
    keep = ~np.asarray(has_copy, dtype=bool)
    return {**compute_metrics(np.asarray(y_true)[keep], probabilities[keep], split_name),
            "left_out": int((~keep).sum()), "without": "faces with an exact or near copy in Training"}


def write_report(out_dir: str | os.PathLike, split_name: str, split: Split, probabilities: np.ndarray,
                 sample_count: int = 32, seed: int = 0, has_copy: np.ndarray | None = None) -> dict[str, Any]:
    """Write metrics.json, misclassified.csv and samples.png into ``out_dir``; return the metrics.
    ``has_copy`` (which faces have a copy in Training) adds ``without_copies``: the same metrics
    on the rest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = compute_metrics(split.labels, probabilities, split_name)
    if has_copy is not None:
        metrics["without_copies"] = metrics_without_copies(split.labels, probabilities, split_name, has_copy)
    write_json_atomic(out / METRICS_FILE, metrics)
    write_text_atomic(out / "misclassified.csv", misclassified_csv(split, probabilities))
    image = samples_grid(split, probabilities, count=sample_count, seed=seed)
    with atomic_path(out / "samples.png") as tmp:
        image.save(tmp, format="PNG")
    return metrics


def misclassified_frame(split: Split, probabilities: np.ndarray) -> pd.DataFrame:
    """Mistakes, most confident first: index, file, true, predicted, confidence, one column per class."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != split.labels)
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
    frame = pd.DataFrame({
        "index": wrong.astype(int),
        "file": [split.files[i] for i in wrong],
        "true": [CLASSES[split.labels[i]] for i in wrong],
        "predicted": [CLASSES[predicted[i]] for i in wrong],
        "confidence": probabilities[wrong, predicted[wrong]],
    })
    for k, name in enumerate(CLASSES):
        frame[f"p_{name}"] = probabilities[wrong, k]
    return frame


def misclassified_csv(split: Split, probabilities: np.ndarray) -> str:
    return misclassified_frame(split, probabilities).to_csv(index=False, float_format="%.4f")


def samples_grid(split: Split, probabilities: np.ndarray, count: int = 32, columns: int = 8,
                 tile: int = 96, seed: int = 0) -> Image.Image:
    """A grid of sample predictions: true and predicted label under each face, mistakes in red."""
    rng = np.random.default_rng(seed)
    count = min(count, len(split))
    indices = np.sort(rng.choice(len(split), size=count, replace=False)) if count else np.array([], int)
    predicted = probabilities.argmax(axis=1)
    rows = max(1, -(-count // columns))
    caption = 30
    grid = Image.new("RGB", (columns * tile, rows * (tile + caption)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for k, i in enumerate(indices):
        x, y = (k % columns) * tile, (k // columns) * (tile + caption)
        face = Image.fromarray(split.images[i]).resize((tile, tile), Image.Resampling.NEAREST).convert("RGB")
        grid.paste(face, (x, y))
        correct = predicted[i] == split.labels[i]
        colour = (0, 140, 0) if correct else (220, 0, 0)
        draw.rectangle([x, y, x + tile - 1, y + tile - 1], outline=colour, width=3)
        draw.text((x + 3, y + tile + 2), f"T: {CLASSES[split.labels[i]]}", fill="black", font=font)
        mark = "" if correct else " X"
        draw.text((x + 3, y + tile + 15), f"P: {CLASSES[predicted[i]]}{mark}", fill=colour, font=font)
    return grid


def measure_publictest(model_path: str | os.PathLike, data: str,
                       cache_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Val (PublicTest) metrics of a model file, without TTA and with each TTA mode; each with
    ``without_copies``: the same on the val faces with no exact or near copy in Training."""
    from fer_core.data.loaders import load_dataset
    from fer_core.data.stats import held_out_copies
    from fer_core.runtime.cards import TTA_MODES
    from fer_core.runtime.loading import load_model

    dataset = load_dataset(data, cache_dir=cache_dir)
    val = dataset.split("val")
    has_copy = held_out_copies(dataset, "val")
    measured = {}
    for mode in TTA_MODES:
        probabilities = predict_probabilities(load_model(model_path, tta=mode), val.images)
        measured[mode] = compute_metrics(val.labels, probabilities, "val")
        if has_copy is not None:
            measured[mode]["without_copies"] = metrics_without_copies(val.labels, probabilities, "val", has_copy)
    return measured
