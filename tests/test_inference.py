"""Classifying face crops from files: any size or colour, bad files answered per file."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core import CLASSES
from fer_core.inference import default_model_path, load_model, predict_files
from fer_core.model_card import read_model_card
from fer_core.models import build_model
from fer_core.training import save_inference_model
from tests.conftest import face_image


@pytest.fixture
def tiny_model(tmp_path):
    path = tmp_path / "tiny.keras"
    save_inference_model(build_model("reference", filters=(4, 4, 4), dense_units=8), path)
    return load_model(path)


def test_predict_files_mixed_good_and_bad(tmp_path, tiny_model):
    face_image(3, 1, size=200, mode="RGB").save(tmp_path / "big.png")
    face_image(3, 2).save(tmp_path / "small.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    (tmp_path / "text.png").write_text("hello")
    results = predict_files(tiny_model, [tmp_path / n for n in ("big.png", "broken.jpg", "small.jpg",
                                                                "text.png", "missing.jpg")])
    by_name = {r.file.split("/")[-1]: r for r in results}
    for good in ("big.png", "small.jpg"):
        probs = by_name[good].probabilities
        assert list(probs) == list(CLASSES) and abs(sum(probs.values()) - 1) < 1e-4
        assert by_name[good].top in CLASSES and by_name[good].error is None
    for bad in ("broken.jpg", "text.png"):
        assert by_name[bad].probabilities is None and by_name[bad].error
    assert "No such file" in by_name["missing.jpg"].error
    assert [r.file.split("/")[-1] for r in results][0] == "big.png"  # input order kept


def test_bundled_default_model_ships_with_its_card():
    path = default_model_path()
    assert path.exists(), "models/default.keras must ship with the repository"
    assert path.stat().st_size < 10 * 1024 * 1024
    card = read_model_card(path)
    for key in ("architecture", "data", "epochs", "command", "keras_backend", "publictest_metrics"):
        assert key in card
    assert card["publictest_metrics"]["split"] == "val" and card["publictest_metrics"]["n"] == 3589
    model = load_model("default")
    x = np.asarray(face_image(3, 5), dtype="float32")[None, ..., None]
    assert model.predict(x, verbose=0).shape == (1, 7)
