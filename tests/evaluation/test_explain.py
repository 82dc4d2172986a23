"""Grad-CAM: maps of the right shape, finite, on the evidence, for every architecture and wrapper."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_core.runtime.ensemble import build_ensemble
from fer_core.evaluation.explain import gradcam, networks_inside, overlay
from fer_core.runtime.tta import with_tta
from fer_core.models import build_model

CORNERS = [(slice(0, 16), slice(0, 16)), (slice(0, 16), slice(32, 48)), (slice(32, 48), slice(0, 16)),
           (slice(32, 48), slice(32, 48))]


def corner_task(n: int, seed: int):
    """Noise faces whose class (0-3) is the corner holding a bright patch."""
    rng = np.random.default_rng(seed)
    faces = rng.uniform(0, 90, (n, 48, 48)).astype(np.uint8)
    labels = rng.integers(0, 4, n)
    for face, label in zip(faces, labels):
        rows, cols = CORNERS[label]
        face[rows, cols][4:12, 4:12] = 255
    return faces, labels


def quadrant(heat: np.ndarray) -> int:
    row, col = np.unravel_index(np.argmax(heat), heat.shape)
    return (row >= 24) * 2 + (col >= 24)


def test_the_map_peaks_on_the_evidence_of_a_trained_model():
    keras.utils.set_random_seed(0)
    faces, labels = corner_task(1200, seed=1)
    model = build_model("reference", filters=[8, 16, 16], dense_units=32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(faces[..., None].astype("float32"), labels, epochs=4, batch_size=64, verbose=0)
    test_faces, test_labels = corner_task(40, seed=2)
    predicted = model.predict(test_faces[..., None].astype("float32"), verbose=0).argmax(1)
    assert (predicted == test_labels).mean() > 0.9
    maps, explained = gradcam(model, test_faces)
    assert maps.shape == (40, 48, 48) and np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_array_equal(explained, predicted)
    hits = np.mean([quadrant(m) == label for m, label in zip(maps, test_labels)])
    assert hits >= 0.8, hits


@pytest.mark.parametrize("name, sizes", [("reference", dict(filters=[4, 8, 8], dense_units=8)),
                                         ("vgg", dict(filters=[4, 8, 8, 8], dense_units=8)),
                                         ("resnet", dict(filters=[4, 8, 8, 8]))])
def test_every_architecture_and_wrapper_gets_finite_48x48_maps(name, sizes):
    faces = np.random.default_rng(3).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    plain = build_model(name, augment_strength=0.5, **sizes)
    for model, networks in ((plain, 1), (with_tta(plain, "multicrop"), 1),
                            (build_ensemble([plain, build_model(name, **sizes)]), 2)):
        assert len(networks_inside(model)) == networks
        maps, classes = gradcam(model, faces, classes=np.array([0, 3, 6]))
        assert maps.shape == (3, 48, 48) and np.isfinite(maps).all() and list(classes) == [0, 3, 6]
    picture = overlay(faces[0], maps[0])
    assert picture.shape == (192, 192, 3) and picture.dtype == np.uint8


def run_cli(*args):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    return subprocess.run([sys.executable, "-m", "fer_core", *map(str, args)], cwd=REPO_ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_explain_command_for_a_dataset_face_and_bad_input(finished_run, tmp_path):
    import json

    data = json.loads((finished_run / "config.json").read_text())["data"]
    result = run_cli("explain", "3", "--data", data, "--model", finished_run, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert report["faces"][0]["index"] == 3 and (tmp_path / "out" / "face_1.png").exists()
    assert report["faces"][0]["explained"] in report["faces"][0]["probabilities"]

    lambda_model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Lambda(lambda x: x * 2),
                                     keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    lambda_model.save(tmp_path / "lambda.keras")
    for args, message in (((tmp_path / "missing.keras",), "no model file"),
                          ((tmp_path / "lambda.keras",), "Lambda"),
                          ((finished_run, "--split", "nowhere"), "invalid choice"),
                          ((finished_run, "--split", "test"), "no 'test' split")):
        result = run_cli("explain", "0", "--data", data, "--model", *args, "--out", tmp_path / "bad")
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    result = run_cli("explain", "999", "--data", data, "--model", finished_run, "--out", tmp_path / "bad")
    assert result.returncode == 2 and "outside val" in result.stderr
