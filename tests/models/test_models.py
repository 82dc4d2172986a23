"""The model registry, the reference CNN and augmentation."""

from __future__ import annotations

import io
import zipfile

import h5py
import keras
import numpy as np
import pytest

from fer_core import CLASSES
from fer_core.errors import ModelError
from fer_core.runtime.loading import load_model
from fer_core.models import build_model, list_models, register_model, tiny_kwargs
from fer_core.training.config import TrainConfig
from fer_core.training.optim import compile_model
from fer_core.runtime.saving import save_inference_model


def test_registry_lists_reference_and_rejects_unknown():
    assert {"reference", "vgg", "resnet"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown model 'nope'; registered models: .*reference"):
        build_model("nope")


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match="already registered"):
        register_model("reference")(lambda: None)


def test_reference_design_and_parameters():
    model = build_model("reference", filters=(8, 16, 24), dense_units=32, dropout=0.3)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [8, 16, 24]
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 3
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) >= 3
    assert model.get_layer("dense").units == 32
    assert model.get_layer("dropout").rate == 0.3
    assert model.output_shape == (None, len(CLASSES))
    out = model.predict(np.zeros((2, 48, 48, 1), "float32"), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_augmentation_is_inactive_at_inference():
    model = build_model("reference", filters=(4, 4, 4), dense_units=8, augment_strength=1.0, seed=0)
    x = np.random.default_rng(1).uniform(0, 255, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))


# Every registered architecture, each with one of the optimizers and crop sizes in turn.
RECIPES = [("adam", 0), ("sgd", 40), ("adamw", 36)]


@pytest.mark.parametrize("name", list_models())
def test_trains_a_step_and_round_trips_in_safe_mode(tmp_path, name):
    optimizer, crop_size = RECIPES[list_models().index(name) % len(RECIPES)]
    config = TrainConfig(data="unused", model=name, augment_strength=0.5, erasing=0.5, optimizer=optimizer,
                         lr_schedule="onecycle", crop_size=crop_size, **tiny_kwargs(name))
    model = compile_model(build_model(name, **config.model_kwargs()), config, steps_per_epoch=1)
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[np.arange(8) % 7]
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    save_inference_model(model, tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.input_shape == (None, 48, 48, 1)
    assert ("crop" in [layer.name for layer in loaded.layers]) == bool(crop_size)
    with zipfile.ZipFile(tmp_path / "m.keras") as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as h5:
        assert "optimizer" not in h5 or len(h5["optimizer"]) == 0  # shipped models carry no optimizer state
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_face_crop_takes_a_random_window_per_image_in_training_and_the_centre_at_inference():
    from fer_core.models.layers import FaceCrop

    # Each pixel holds its own (image, row, column) code, so a window's position can be read back.
    n, size = 32, 40
    codes = (np.arange(n)[:, None, None] * 10000 + np.arange(48)[None, :, None] * 100 + np.arange(48)[None, None, :])
    x = codes[..., None].astype("float32")
    crop = FaceCrop(size, seed=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(crop(x, training=False)), x[:, 4:44, 4:44])
    out = keras.ops.convert_to_numpy(crop(x, training=True))
    assert out.shape == (n, size, size, 1)
    offsets = set()
    for i in range(n):
        top, left = int(out[i, 0, 0, 0]) % 10000 // 100, int(out[i, 0, 0, 0]) % 100
        assert 0 <= top <= 8 and 0 <= left <= 8
        np.testing.assert_array_equal(out[i], x[i, top:top + size, left:left + size])  # one whole window
        offsets.add((top, left))
    assert len(offsets) > n // 4  # each image gets its own window
    with pytest.raises(ValueError, match="crop size"):
        build_model("vgg", crop_size=50)
    with pytest.raises(ValueError, match="crop size"):
        TrainConfig(data="unused", crop_size=49)


def test_load_model_refuses_non_keras_files(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x04not a model")
    with pytest.raises(ValueError, match="expected a .keras model file"):
        load_model(tmp_path / "evil.pkl")
    with pytest.raises(ModelError):
        load_model(tmp_path / "missing.keras")


def test_safe_mode_rejects_lambda_layers(tmp_path):
    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Lambda(lambda t: t * 2)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="(?i)unsafe|lambda"):
        load_model(tmp_path / "lambda.keras")


def test_vgg_and_resnet_designs_follow_their_sizes():
    vgg = build_model("vgg", filters=(8, 16, 32, 64), convs_per_stage=2, dense_units=32)
    convs = [layer.filters for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [8, 8, 16, 16, 32, 32, 64, 64]
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in vgg.layers) == 4
    resnet = build_model("resnet", filters=(8, 16), blocks_per_stage=3)
    assert sum(isinstance(layer, keras.layers.Add) for layer in resnet.layers) == 6
    assert resnet.get_layer("stage2_block1_conv1").strides == (2, 2)  # each later stage halves the grid
    for model in (vgg, resnet):
        assert model.output_shape == (None, len(CLASSES))
        assert model.get_layer("probabilities").dtype_policy.compute_dtype == "float32"


def test_vgg_takes_one_depth_per_stage_as_the_quick_preset_does():
    vgg = build_model("vgg", filters=(8, 16, 32, 64), convs_per_stage=[1, 1, 2, 2], dense_units=16, stage_dropout=0.0)
    assert [layer.filters for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)] == [8, 16, 32, 32, 64, 64]
    assert not any(isinstance(layer, keras.layers.Dropout) and layer.name.startswith("stage") for layer in vgg.layers)
    with pytest.raises(ValueError, match="one per stage"):
        build_model("vgg", filters=(8, 16), convs_per_stage=[1, 1, 2])
