"""Loading models: the bundled default with its card, and what a promotion changes."""

from __future__ import annotations

import numpy as np
from fer_core.runtime.loading import bundled_model_path, default_model_path, load_model
from fer_core.runtime.cards import ModelCard
from fer_core.settings import Settings
from tests.conftest import face_image


def test_bundled_default_model_ships_with_its_card():
    path = default_model_path()
    assert path.exists(), "models/default.keras must ship with the repository"
    assert path.stat().st_size < 10 * 1024 * 1024
    card = dict(ModelCard.read(path).data)
    for key in ("architecture", "data", "epochs", "command", "keras_backend", "publictest_metrics"):
        assert key in card
    assert card["publictest_metrics"]["split"] == "val" and card["publictest_metrics"]["n"] == 3589
    model = load_model("default")
    x = np.asarray(face_image(3, 5), dtype="float32")[None, ..., None]
    assert model.predict(x, verbose=0).shape == (1, 7)


def test_promoting_a_run_changes_the_default_and_restoring_brings_the_bundled_back(finished_run, tmp_path,
                                                                                    monkeypatch):
    from fer_core.runs.bundle import promote_run, restore_bundled_default

    runs = tmp_path / "runs"
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    assert default_model_path(Settings.load()) == bundled_model_path()
    promoted = promote_run(finished_run, runs)
    assert default_model_path(Settings.load()) == promoted  # the settings the entry point read, handed down and promoted.read_bytes() == (finished_run / "model.keras").read_bytes()
    card = dict(ModelCard.read(promoted).data)
    assert card["source_run"] == finished_run.name and card["publictest_metrics"]["split"] == "val"
    assert load_model("default", settings=Settings.load()).count_params() == load_model(finished_run).count_params()
    assert restore_bundled_default(runs) is True
    assert default_model_path(Settings.load()) == bundled_model_path() and bundled_model_path().exists()


def test_every_bundled_model_is_small_loads_safely_and_has_a_measured_card():
    """What ships in models/ (default, quick, reference, an ensemble): under 20 MB each, loadable in
    safe mode, with PublicTest metrics measured with and without TTA."""
    from fer_core.runtime.loading import bundled_models

    shipped = {"default": bundled_model_path(), **bundled_models()}
    assert len(shipped) >= 2
    x = np.asarray(face_image(1, 2), dtype="float32")[None, ..., None]
    for name, path in shipped.items():
        assert path.stat().st_size < 20 * 1024 * 1024, name
        card = dict(ModelCard.read(path).data)
        assert set(card["publictest_accuracy_by_tta"]) == {"none", "flip", "multicrop"}, name
        assert abs(card["publictest_accuracy_by_tta"]["none"] - card["publictest_metrics"]["accuracy"]) < 1e-3, name
        assert card["terms"].startswith("code MIT; weights learnt from FER2013"), name  # docs/licences.md
        probabilities = load_model(path).predict(x, verbose=0)
        assert probabilities.shape == (1, 7) and np.isclose(probabilities.sum(), 1.0, atol=1e-4), name


def test_without_keras_the_default_is_its_onnx_export_where_the_install_has_one(monkeypatch, tmp_path):
    """The wheel's base install has no Keras: ``default`` is then models/default.onnx (made when
    the wheel is built, scripts/hatch_build.py; tests/test_package.py answers a photo with it).
    Without that file, or with Keras, it stays default.keras."""
    import fer_core.runtime.loading as loading

    (tmp_path / "default.keras").write_bytes(b"")
    monkeypatch.setattr(loading, "bundled_models_dir", lambda: tmp_path)
    monkeypatch.setattr(loading, "keras_installed", lambda: False)
    assert bundled_model_path() == tmp_path / "default.keras"  # no export here: the .keras says what is missing
    (tmp_path / "default.onnx").write_bytes(b"")
    assert bundled_model_path() == tmp_path / "default.onnx"
    monkeypatch.setattr(loading, "keras_installed", lambda: True)
    assert bundled_model_path() == tmp_path / "default.keras"


def test_the_best_tta_comes_from_the_card(tmp_path):
    from fer_core.runtime.loading import bundled_models

    assert ModelCard.read(bundled_model_path()).best_tta() == "multicrop"  # 71.25% against 70.99% (none), 70.55% (flip)
    assert ModelCard.read(bundled_models()["quick"]).best_tta() == "multicrop"
    assert ModelCard.read(tmp_path / "no_card.keras").best_tta() == "flip"  # no card: flip, the usual gain
