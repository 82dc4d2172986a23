"""Operating points: offsets that reach their target on val, stored in the card, applied when asked."""

from __future__ import annotations

from fer_core.runtime.cards import ModelCard

import json
import shutil

import numpy as np
import pytest

from fer_core.errors import ConfigError
from fer_core.evaluation.operating_points import OperatingTarget, cross_fitted, fit_offsets, recalls, tradeoff_curve
from fer_core.runtime.offsets import apply_offsets


def simulated(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    logits = rng.normal(0, 1, (n, 7))
    logits[np.arange(n), labels] += 1.2
    logits[:, 2] -= 0.6  # fear under-predicted, as with FER2013
    probabilities = np.exp(logits)
    return labels, probabilities / probabilities.sum(axis=1, keepdims=True)


def test_a_recall_target_is_reached_with_the_smallest_offset():
    labels, probabilities = simulated()
    assert recalls(labels, probabilities)[2] < 0.5
    offsets = fit_offsets(labels, probabilities, OperatingTarget("recall", "fear", 0.60))
    assert recalls(labels, apply_offsets(probabilities, offsets))[2] >= 0.60
    smaller = offsets.copy()
    smaller[2] -= 0.01
    assert recalls(labels, apply_offsets(probabilities, smaller))[2] < 0.60
    assert np.count_nonzero(offsets) == 1


def test_balanced_offsets_raise_the_mean_recall_and_cross_fitting_reports_honestly():
    labels, probabilities = simulated()
    offsets = fit_offsets(labels, probabilities, OperatingTarget("balanced"))
    assert recalls(labels, apply_offsets(probabilities, offsets)).mean() > recalls(labels, probabilities).mean() + 0.01
    report = cross_fitted(labels, probabilities, OperatingTarget("recall", "fear", 0.60))
    assert report["before"]["recall"]["fear"] < 0.5 < report["after_cross_fitted"]["recall"]["fear"]
    rows = tradeoff_curve(labels, probabilities, "fear", np.array([0.3, 0.6, 0.9]))
    assert [r["recall"] >= r["target"] for r in rows] == [True] * 3
    assert rows[2]["accuracy"] < rows[1]["accuracy"]  # a high fear recall costs accuracy
    with pytest.raises(ConfigError, match="between 0 and 1"):
        OperatingTarget("recall", "fear", 1.5).check()


def test_stored_in_the_card_and_applied_only_when_asked(finished_run, tmp_path):
    from fer_core.cli import main
    from fer_core.evaluation.analysis import store_operating_point
    from fer_core.runtime.loading import load_model
    from fer_core.runtime.model import predict_probabilities
    from tests.conftest import face_image

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    data = json.loads((run / "config.json").read_text())["data"]
    with pytest.raises(ConfigError, match="has no operating point"):
        load_model(run, operating_point=True)
    point, card = store_operating_point(run, data, OperatingTarget("recall", "fear", 0.9))
    assert json.loads(card.read_text())["operating_point"]["offsets"] == point.offsets
    assert ModelCard.read(run / "model.keras").operating_point == point  # typed, read back as written
    faces = np.stack([np.asarray(face_image(k % 7, k)) for k in range(14)])
    plain = predict_probabilities(load_model(run, calibrated=True), faces)
    moved = predict_probabilities(load_model(run, calibrated=True, operating_point=True), faces)
    np.testing.assert_allclose(moved, apply_offsets(plain, list(point.offsets.values())), atol=1e-5)
    face_image(2, 1, size=120, mode="RGB").save(tmp_path / "face.png")
    assert main(["predict", str(tmp_path / "face.png"), "--model", str(run), "--detector", "none",
                 "--operating-point"]) == 0
