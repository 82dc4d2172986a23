"""Predictions cached on disk, confused pairs, confidence and calibration (temperature scaling)."""

from __future__ import annotations

import json
import subprocess
import sys
import os

import keras
import numpy as np
import pytest

from fer_core.data.loaders import load_dataset
from fer_core.evaluation.analysis import (apply_temperature, cached_probabilities, calibration_report,
                                         confidence_by_correctness, confused_pairs, cross_fitted_calibration,
                                         fit_temperature)
from fer_core.models.layers import Temperature
from tests.conftest import REPO_ROOT


def overconfident(n: int = 4000, seed: int = 0):
    """Labels and probabilities that are right 60% of the time but claim about 90%."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    right = rng.random(n) < 0.6
    top = np.where(right, labels, (labels + rng.integers(1, 7, n)) % 7)
    logits = rng.normal(0, 0.3, (n, 7))
    logits[np.arange(n), top] += 3.5
    p = np.exp(logits)
    return labels, p / p.sum(axis=1, keepdims=True)


def test_temperature_scaling_fixes_overconfidence():
    labels, p = overconfident()
    before = calibration_report(labels, p)
    assert before["ece"] > 0.2 and sum(b["count"] for b in before["bins"]) == len(labels)
    t = fit_temperature(labels, p)
    assert t > 1.5  # over-confident: softened
    after = calibration_report(labels, apply_temperature(p, t))
    assert after["ece"] < 0.05 and after["nll"] < before["nll"] and after["brier"] < before["brier"]
    np.testing.assert_array_equal(apply_temperature(p, t).argmax(1), p.argmax(1))  # accuracy unchanged
    report = cross_fitted_calibration(labels, p)
    assert report["after_cross_fitted"]["ece"] < report["before"]["ece"] / 3


def test_a_calibrated_model_is_already_calibrated():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(7), 20000)
    labels = np.array([rng.choice(7, p=row) for row in p])  # drawn from the probabilities themselves
    assert calibration_report(labels, p)["ece"] < 0.02
    assert 0.8 < fit_temperature(labels, p) < 1.25


def test_confused_pairs_and_confidence_split():
    confusion = np.diag([50] * 7)
    confusion[2, 4] = 30  # fear taken for sad
    confusion[1, 0] = 5
    pairs = confused_pairs(confusion)
    assert pairs[0] == {"true": "fear", "predicted": "sad", "count": 30, "share_of_true": 30 / 80}
    assert [(p["true"], p["predicted"]) for p in pairs] == [("fear", "sad"), ("disgust", "angry")]
    labels = np.array([0, 1, 2])
    probs = np.array([[0.9, 0.1, 0, 0, 0, 0, 0], [0.6, 0.4, 0, 0, 0, 0, 0], [0, 0, 0.7, 0.3, 0, 0, 0]])
    right, wrong = confidence_by_correctness(labels, probs)
    np.testing.assert_allclose(right, [0.9, 0.7])
    np.testing.assert_allclose(wrong, [0.6])


def test_the_temperature_layer_matches_and_loads_in_safe_mode(tmp_path):
    labels, p = overconfident(50)
    inputs = keras.Input((7,))
    model = keras.Model(inputs, Temperature(2.5)(inputs))
    np.testing.assert_allclose(model.predict(p, verbose=0), apply_temperature(p, 2.5), rtol=1e-4, atol=1e-6)
    model.save(tmp_path / "t.keras")
    loaded = keras.saving.load_model(tmp_path / "t.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(p, verbose=0), apply_temperature(p, 2.5), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        Temperature(0.0)


def test_predictions_are_cached_on_disk_by_model_data_split_and_tta(finished_run, tmp_path, monkeypatch):
    data_path = json.loads((finished_run / "config.json").read_text())["data"]
    dataset = load_dataset(data_path)
    model = finished_run / "model.keras"
    first = cached_probabilities(model, data_path, dataset, "val", cache_dir=tmp_path)
    assert first.shape == (len(dataset.split("val")), 7)
    import fer_core.runtime.loading as loading

    monkeypatch.setattr(loading, "load_model", lambda *a, **k: pytest.fail("the model was loaded again"))
    np.testing.assert_array_equal(cached_probabilities(model, data_path, dataset, "val", cache_dir=tmp_path), first)
    monkeypatch.undo()
    flipped = cached_probabilities(model, data_path, dataset, "val", tta="flip", cache_dir=tmp_path)
    assert len(list((tmp_path / "predictions").glob("*.npz"))) == 2 and flipped.shape == first.shape


def test_calibrate_command_stores_the_temperature_that_predict_applies(finished_run, tmp_path):
    import shutil

    data_path = json.loads((finished_run / "config.json").read_text())["data"]
    model = tmp_path / "mine.keras"
    shutil.copy(finished_run / "model.keras", model)
    result = subprocess.run([sys.executable, "-m", "fer_core", "calibrate", model, "--data", data_path],
                            cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "temperature" in result.stdout and "ECE" in result.stdout
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["temperature"] > 0 and set(card["calibration"]["before"]) == {"ece", "nll", "brier"}
    from fer_core.runtime.loading import load_model

    calibrated = load_model(model, calibrated=True)
    assert calibrated.get_layer("calibration").temperature == card["temperature"]
    faces = load_dataset(data_path).split("val").images[:5]
    from fer_core.runtime.model import predict_probabilities

    raw = predict_probabilities(load_model(model), faces)
    np.testing.assert_allclose(predict_probabilities(calibrated, faces), apply_temperature(raw, card["temperature"]),
                               rtol=1e-4, atol=1e-6)
    bad = subprocess.run([sys.executable, "-m", "fer_core", "calibrate", tmp_path / "missing.keras", "--data",
                          data_path], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no model file" in bad.stderr
