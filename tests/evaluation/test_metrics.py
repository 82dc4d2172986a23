"""Metrics (checked by hand against the confusion matrix) and the report files."""

from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image

from fer_core import CLASSES
from fer_core.data.dataset import Split
from fer_core.evaluation.metrics import compute_metrics, write_report


def _probabilities(predicted: list[int], confidence: float = 0.7) -> np.ndarray:
    p = np.full((len(predicted), 7), (1 - confidence) / 6)
    p[np.arange(len(predicted)), predicted] = confidence
    return p


def test_metrics_by_hand():
    y_true = np.array([0, 0, 1, 3, 3, 3, 6])
    predicted = [0, 3, 1, 3, 3, 0, 6]
    m = compute_metrics(y_true, _probabilities(predicted), "test")
    assert m["split"] == "test" and m["n"] == 7 and m["classes"] == list(CLASSES)
    assert m["accuracy"] == 5 / 7
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (7, 7) and cm.sum() == 7
    assert cm[0, 0] == 1 and cm[0, 3] == 1 and cm[3, 0] == 1 and cm[3, 3] == 2  # rows true, columns predicted
    angry = m["per_class"]["angry"]
    assert angry == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    happy = m["per_class"]["happy"]
    assert happy["precision"] == 2 / 3 and happy["recall"] == 2 / 3 and happy["support"] == 3
    # Classes with no support and no predictions score 0, and count in the macro mean.
    assert m["per_class"]["fear"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    expected_macro = (0.5 + 1.0 + 0 + 2 / 3 + 0 + 0 + 1.0) / 7
    assert abs(m["macro_f1"] - expected_macro) < 1e-12


def test_report_files(tmp_path):
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 255, (20, 48, 48), dtype=np.uint8), np.arange(20) % 7,
                  [f"img{i}.jpg" for i in range(20)])
    predicted = [(label if i % 3 else (label + 1) % 7) for i, label in enumerate(split.labels)]
    probs = _probabilities(predicted)
    probs[3, predicted[3]] = 0.95  # the most confident mistake
    metrics = write_report(tmp_path, "val", split, probs)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == metrics
    assert set(on_disk) == {"split", "n", "classes", "accuracy", "macro_f1", "per_class", "confusion_matrix",
                            "intervals"}
    low, high = on_disk["intervals"]["accuracy"]
    assert low < on_disk["accuracy"] < high and set(on_disk["intervals"]["per_class"]["fear"]) == {"precision", "recall",
                                                                                                   "f1"}
    without = write_report(tmp_path / "clean", "val", split, probs, has_copy=np.arange(20) < 5)["without_copies"]
    assert without["left_out"] == 5 and without["n"] == 15
    with open(tmp_path / "misclassified.csv") as f:
        rows = list(csv.DictReader(f))
    wrong = [i for i in range(20) if predicted[i] != split.labels[i]]
    assert sorted(int(r["index"]) for r in rows) == wrong
    assert rows[0]["index"] == "3" and rows[0]["file"] == "img3.jpg"
    assert rows[0]["true"] == CLASSES[split.labels[3]] and rows[0]["predicted"] == CLASSES[predicted[3]]
    assert list(rows[0])[-7:] == [f"p_{c}" for c in CLASSES]
    image = Image.open(tmp_path / "samples.png")
    assert image.format == "PNG" and image.width >= 8 * 48
