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


def test_the_tracked_onnx_default_is_the_export_of_todays_default():
    """models/default.onnx is tracked so that a fresh clone builds the wheel with no Keras
    (scripts/hatch_build.py): it must stay the export of models/default.keras, the file its card
    describes, and answer as the Keras model does. A new default bundled without its export
    redone fails here: ``python -m fer_core export models/default.keras --format onnx --out
    models/default.onnx``."""
    from fer_core.fileio import file_sha256
    from fer_core.runtime.cards import CARD_METADATA_KEY
    import json
    import onnx

    keras_file = default_model_path()
    onnx_file = keras_file.with_suffix(".onnx")
    card = json.loads(onnx_file.with_name("default.onnx.json").read_text())
    assert card["file_sha256"] == file_sha256(onnx_file), "the card describes another default.onnx"
    assert card["source"]["sha256"] == file_sha256(keras_file), "default.onnx is the export of an older default.keras"
    assert card["parity"]["top1_agreement"] == 1.0 and card["terms"]
    embedded = {p.key: p.value for p in onnx.load(str(onnx_file), load_external_data=False).metadata_props}
    assert json.loads(embedded[CARD_METADATA_KEY])["terms"] == card["terms"]
    faces = np.stack([np.asarray(face_image(i, 3), dtype="float32")[..., None] for i in range(4)])
    from_onnx = load_model(onnx_file).predict_on_batch(faces)  # the multicrop TTA and the temperature inside its graph
    from_keras = np.asarray(load_model(keras_file, tta="multicrop", calibrated=True).predict_on_batch(faces))
    assert np.abs(from_onnx - from_keras).max() < 1e-4


def test_the_best_tta_comes_from_the_card(tmp_path):
    from fer_core.runtime.loading import bundled_models

    assert ModelCard.read(bundled_model_path()).best_tta() == "multicrop"  # 71.25% against 70.99% (none), 70.55% (flip)
    assert ModelCard.read(bundled_models()["quick"]).best_tta() == "multicrop"
    assert ModelCard.read(tmp_path / "no_card.keras").best_tta() == "flip"  # no card: flip, the usual gain
