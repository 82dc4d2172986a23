"""FaceAugment: each transform does what it says in training, and nothing at inference."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_core.data.augmentation import FaceAugment, build_augmentation
from fer_core.models import build_model


def marker_faces(n: int = 16) -> np.ndarray:
    """Flat grey faces with one bright 3x3 marker left of centre, near the top."""
    x = np.full((n, 48, 48, 1), 100.0, "float32")
    x[:, 10:13, 8:11] = 250.0
    return x


def run(layer: FaceAugment, x: np.ndarray, training: bool = True) -> np.ndarray:
    return keras.ops.convert_to_numpy(layer(x, training=training))


def marker_centre(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(image[..., 0] > 175)
    return float(rows.mean()), float(cols.mean())


def test_flip_mirrors_the_marker_exactly():
    x = marker_faces(32)
    out = run(FaceAugment(flip=True, seed=1), x)
    mirrored = [np.array_equal(o, f[:, ::-1]) for o, f in zip(out, x)]
    kept = [np.array_equal(o, f) for o, f in zip(out, x)]
    assert all(m or k for m, k in zip(mirrored, kept)) and any(mirrored) and any(kept)
    assert marker_centre(out[mirrored.index(True)]) == (11.0, 38.0)  # column 9 -> 47 - 9


def test_shift_moves_whole_pixels_within_its_reach_and_keeps_the_shape():
    x = marker_faces(32)
    out = run(FaceAugment(shift=4, seed=2), x)
    assert out.shape == x.shape
    moves = [np.subtract(marker_centre(o), (11.0, 9.0)) for o in out]
    assert all(abs(dy) <= 4 and abs(dx) <= 4 and dy == int(dy) and dx == int(dx) for dy, dx in moves)
    assert len({(dy, dx) for dy, dx in moves}) > 5  # each face gets its own shift
    assert set(np.unique(out)) <= {100.0, 250.0}  # no interpolation, edges repeated


def test_rotation_and_zoom_keep_the_centre_and_stay_in_range():
    x = np.zeros((8, 48, 48, 1), "float32")
    x[:, 20:28, 20:28] = 200.0  # a block on the centre stays on the centre
    for layer in (FaceAugment(rotation=15, seed=3), FaceAugment(zoom=0.2, seed=3)):
        out = run(layer, x)
        assert out.shape == x.shape and not np.allclose(out, x)
        assert out.min() >= 0 and out.max() <= 200.0 + 1e-3
        for image in out:
            rows, cols = np.nonzero(image[..., 0] > 100)
            assert abs(rows.mean() - 23.5) < 0.6 and abs(cols.mean() - 23.5) < 0.6


def test_contrast_changes_spread_about_each_faces_mean():
    x = np.random.default_rng(0).uniform(50, 200, (8, 48, 48, 1)).astype("float32")
    out = run(FaceAugment(contrast=0.5, seed=4), x)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), rtol=0.02)
    ratios = out.std(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3))
    assert ratios.min() >= 0.5 - 1e-3 and ratios.max() <= 1.5 + 1e-3 and ratios.std() > 0.01


def test_erasing_changes_only_one_box_per_chosen_face():
    x = np.full((64, 48, 48, 1), 100.0, "float32")
    out = run(FaceAugment(erasing=0.5, seed=5), x)
    changed = out[..., 0] != 100.0
    erased = changed.any(axis=(1, 2))
    assert 16 < erased.sum() < 48  # about half the faces
    for image in changed[erased]:
        rows, cols = np.nonzero(image)
        box = np.zeros_like(image)
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        assert box.sum() <= 0.2 * 48 * 48 + 2 * 48 + 1  # a box of at most ~20% of the face
        np.testing.assert_array_equal(image, box)  # the changed pixels fill one rectangle


def test_jpeg_blocking_matches_the_codec_and_photo_style_degrades_some_faces():
    import io
    from PIL import Image

    rng = np.random.default_rng(3)
    smooth = np.cumsum(np.cumsum(rng.normal(0, 1, (48, 48)), 0), 1)
    face = ((smooth - smooth.min()) / np.ptp(smooth) * 255).astype("float32")
    layer = FaceAugment(photo=1.0, seed=0)
    ours = keras.ops.convert_to_numpy(layer._jpeg(keras.ops.convert_to_tensor(face[None, ..., None]), 1))[0, ..., 0]
    codec = []
    for quality in (15, 75):  # the quality range drawn from
        buffer = io.BytesIO()
        Image.fromarray(face.astype("uint8")).save(buffer, "JPEG", quality=quality)
        codec.append(np.asarray(Image.open(buffer), "float32"))
    change = np.abs(ours - face).mean()
    assert 0 < change and np.abs(codec[1] - face).mean() * 0.5 <= change <= np.abs(codec[0] - face).mean() * 1.5
    x = np.stack([face[..., None]] * 32)
    out = run(FaceAugment(photo=0.3, seed=4), x)
    changed = np.abs(out - x).mean(axis=(1, 2, 3)) > 0.5
    assert 0 < changed.sum() < 32 and out.min() >= 0 and out.max() <= 255
    np.testing.assert_array_equal(run(FaceAugment(photo=0.3, seed=4), x, training=False), x)
    assert build_augmentation(0.0, photo=0.3).photo == 0.3
    with pytest.raises(ValueError):
        build_augmentation(0.0, photo=1.5)


def test_every_transform_is_off_at_inference_and_inside_a_model():
    x = np.random.default_rng(1).uniform(0, 255, (4, 48, 48, 1)).astype("float32")
    layer = FaceAugment(flip=True, rotation=10, zoom=0.1, shift=3, contrast=0.3, erasing=1.0, seed=0)
    np.testing.assert_array_equal(run(layer, x, training=False), x)
    assert not np.allclose(run(layer, x), x)
    model = build_model("reference", filters=(4, 4, 4), dense_units=8, augment_strength=1.0, erasing=0.5,
                        crop_padding=2, flip=True, seed=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_build_augmentation_maps_the_strength_knob():
    assert build_augmentation(0.0) is None
    full = build_augmentation(1.0, seed=1)
    assert (full.flip, full.rotation, full.zoom, full.contrast) == (True, 18.0, 0.1, 0.3)
    assert full.shift == pytest.approx(4.8)
    only_crop = build_augmentation(0.0, shift_pixels=4, flip=True)
    assert (only_crop.shift, only_crop.flip, only_crop.rotation) == (4.0, True, 0.0)
    assert build_augmentation(0.0, erasing=0.5).erasing == 0.5
    with pytest.raises(ValueError):
        build_augmentation(1.5)
    with pytest.raises(ValueError):
        build_augmentation(0.5, shift_pixels=-1)


def test_a_model_with_augmentation_saves_and_loads_in_safe_mode(tmp_path):
    model = build_model("reference", filters=(4, 4, 4), dense_units=8, augment_strength=0.5, erasing=0.25,
                        photo_style=0.2, seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    layer = loaded.get_layer("augmentation")
    assert isinstance(layer, FaceAugment) and layer.get_config() == model.get_layer("augmentation").get_config()
    x = np.random.default_rng(2).uniform(0, 255, (2, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
