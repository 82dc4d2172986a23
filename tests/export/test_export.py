"""Exporting models (ONNX float32 and int8, LiteRT, SavedModel) and running them without Keras:
parity with the Keras graph, the card inside and beside, and refusals in one line."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from fer_core.errors import ConfigError, ModelError
from fer_core.export.exporting import ExportOptions, export_model
from fer_core.runtime.loading import load_model
from fer_core.runtime.cards import CARD_METADATA_KEY
from fer_core.runtime.exported import load_exported
from fer_core.runtime.model import predict_probabilities
from fer_core.cli import main
from tests.conftest import face_image


def faces(count: int = 24) -> np.ndarray:
    return np.stack([np.asarray(face_image(k % 7, 100 + k)) for k in range(count)])


def run_data(run) -> str:
    return json.loads((run / "config.json").read_text())["data"]


def test_onnx_export_answers_as_the_keras_model_without_augmentation_and_carries_its_card(exported_onnx,
                                                                                          finished_run):
    keras_answers = predict_probabilities(load_model(finished_run, tta="flip", calibrated=True), faces())
    exported = load_model(exported_onnx)  # an ExportedModel: onnxruntime, TTA inside
    assert type(exported).__name__ == "OnnxModel" and exported.tta == "flip"
    np.testing.assert_allclose(predict_probabilities(exported, faces()), keras_answers, atol=1e-5)
    graph = onnx.load(str(exported_onnx))
    assert not [n.op_type for n in graph.graph.node if n.op_type.startswith("Random")]  # augmentation removed
    inside = json.loads({p.key: p.value for p in graph.metadata_props}[CARD_METADATA_KEY])
    beside = json.loads(exported_onnx.with_name("tiny.onnx.json").read_text())
    for card in (inside, beside):
        assert card["classes"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        assert card["input"]["shape"] == [None, 48, 48, 1] and card["tta"] == "flip"
        assert len(card["source"]["sha256"]) == 64 and card["command"].startswith("python -m fer_core export")
        assert card["parity"]["top1_agreement"] == 1.0 and card["parity"]["max_abs_probability_difference"] < 1e-4
    assert beside["file_bytes"] == exported_onnx.stat().st_size


def test_litert_and_savedmodel_exports_agree_with_keras_on_real_dataset_faces(finished_run, tmp_path):
    for fmt, out in (("litert", tmp_path / "m.tflite"), ("savedmodel", tmp_path / "m_saved")):
        card = export_model(finished_run, out, ExportOptions(format=fmt, tta="none", data=run_data(finished_run))).data
        assert card["parity"]["top1_agreement"] == 1.0, fmt
        assert card["parity"]["exported_accuracy"] == card["parity"]["keras_accuracy"]
        assert "PublicTest" in card["parity_faces"]
    reference = predict_probabilities(load_model(finished_run, calibrated=True), faces())
    np.testing.assert_allclose(predict_probabilities(load_model(tmp_path / "m.tflite"), faces()), reference,
                               atol=1e-5)
    assert (tmp_path / "m_saved" / "saved_model.pb").exists() and (tmp_path / "m_saved.json").exists()


def test_int8_export_quantizes_and_stays_close_to_float(finished_run, tmp_path):
    card = export_model(finished_run, tmp_path / "m8.onnx",
                        ExportOptions(format="onnx", int8=True, tta="none", data=run_data(finished_run))).data
    ops = [n.op_type for n in onnx.load(str(tmp_path / "m8.onnx")).graph.node]
    assert card["int8"] and "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert card["parity"]["top1_agreement"] >= 0.9
    assert abs(card["parity"]["exported_accuracy"] - card["parity"]["keras_accuracy"]) <= 0.1
    probabilities = predict_probabilities(load_exported(tmp_path / "m8.onnx"), faces())
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert len(np.unique(np.round(probabilities * 255, 3) % 1)) > 2  # the softmax stays float (not 1/255 steps)


def test_bad_export_options_are_refused_before_any_work(finished_run, tmp_path):
    with pytest.raises(ConfigError, match="--int8 is for --format onnx"):
        export_model(finished_run, tmp_path / "m.tflite", ExportOptions(format="litert", int8=True, data="x"))
    with pytest.raises(ConfigError, match="needs --calibration-data"):
        export_model(finished_run, tmp_path / "m.onnx", ExportOptions(int8=True))
    with pytest.raises(ConfigError, match="is a .tflite file"):
        export_model(finished_run, tmp_path / "m.onnx", ExportOptions(format="litert"))
    (tmp_path / "m.onnx").write_bytes(b"an exported model")
    with pytest.raises(ModelError, match="this needs the .keras model"):
        export_model(tmp_path / "m.onnx", tmp_path / "n.onnx")
    assert not list(tmp_path.glob("n.onnx*"))


def test_a_model_with_a_lambda_layer_is_refused_in_one_line(tmp_path, capsys):
    import keras

    inputs = keras.Input((48, 48, 1))
    scaled = keras.layers.Lambda(lambda x: x / 255)(inputs)
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(scaled))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    assert main(["export", str(tmp_path / "lambda.keras"), "--out", str(tmp_path / "out.onnx")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: lambda.keras: not a Keras model that loads in safe mode") and "\n" not in error
    assert not (tmp_path / "out.onnx").exists()


def _onnx_file(path, input_shape, outputs=1):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)
    ys = [helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, input_shape) for k in range(outputs)]
    nodes = [helper.make_node("Identity", ["x"], [f"y{k}"]) for k in range(outputs)]
    onnx.save(helper.make_model(helper.make_graph(nodes, "foreign", [x], ys),
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_corrupt_or_foreign_onnx_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "corrupt.onnx").write_bytes(b"\x08\x07 not protobuf" * 50)
    with pytest.raises(ModelError, match="not a model onnxruntime or LiteRT can load"):
        load_exported(tmp_path / "corrupt.onnx")
    with pytest.raises(ModelError, match=r"maps inputs of shape \(None, 3\)"):
        load_exported(_onnx_file(tmp_path / "shape.onnx", [None, 3]))
    with pytest.raises(ModelError, match="has 1 inputs and 2 outputs"):
        load_exported(_onnx_file(tmp_path / "two.onnx", [None, 48, 48, 1], outputs=2))
    assert main(["predict", "--model", str(tmp_path / "shape.onnx"), str(tmp_path / "any.jpg")]) == 2


def test_an_exported_model_refuses_another_tta_than_its_own(exported_onnx):
    with pytest.raises(ConfigError, match="exported with test-time augmentation 'flip' built in"):
        load_model(exported_onnx, tta="multicrop")
    assert load_model(exported_onnx, tta="flip").tta == "flip"


def test_the_savedmodel_folder_is_replaced_whole(finished_run, tmp_path):
    out = tmp_path / "saved"
    export_model(finished_run, out, ExportOptions(format="savedmodel", tta="none"))
    (out / "stale.txt").write_text("from before")
    export_model(finished_run, out, ExportOptions(format="savedmodel", tta="none"))
    assert not (out / "stale.txt").exists() and (out / "fer_studio_card.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_under_jax_the_export_is_made_under_tensorflow_and_answers_the_same(finished_run, exported_onnx, tmp_path):
    """On a GPU machine the dashboard runs KERAS_BACKEND=jax, where Keras cannot convert to ONNX or
    LiteRT without more packages: the export runs in a TensorFlow child process, errors included."""
    import os
    import subprocess
    import sys

    import keras

    from tests.conftest import REPO_ROOT

    pytest.importorskip("jax", reason="jax is not installed (the optional backend): pip install jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = tmp_path / "under-jax.onnx"
    result = subprocess.run([sys.executable, "-m", "fer_core", "export", str(finished_run), "--tta", "flip",
                             "--out", str(out)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(predict_probabilities(load_exported(out), faces()),
                               predict_probabilities(load_exported(exported_onnx), faces()), atol=1e-6)
    assert json.loads(out.with_name("under-jax.onnx.json").read_text())["tta"] == "flip"

    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(keras.layers.Lambda(lambda x: x)(inputs)))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    refused = subprocess.run([sys.executable, "-m", "fer_core", "export", str(tmp_path / "lambda.keras"), "--out",
                              str(tmp_path / "no.onnx")], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: lambda.keras: not a Keras model that loads")
    assert not (tmp_path / "no.onnx").exists()
