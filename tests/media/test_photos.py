"""Faces in photos: decoding (EXIF, alpha, bad files), detection on real photos, crops, end to end."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from fer_core import CLASSES
from fer_core.errors import DataError
from fer_core.faces.boxes import FaceBox
from fer_core.faces.cropping import crop_face
from fer_core.faces.images import decode_photo
from fer_core.faces.detectors import detect_faces
from fer_core.media.photos import analyze_files, analyze_photos, annotate, results_json, results_rows
from fer_core.runtime.loading import load_model
from fer_core.models import build_model
from fer_core.runtime.saving import save_inference_model
from tests.conftest import SHARED_PHOTOS, needs_photos, face_image, answer_with, spec_for



@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    save_inference_model(build_model("reference", filters=(4, 4, 4), dense_units=8), path)
    return load_model(path)


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_decode_photo_applies_exif_orientation_and_alpha():
    wide = Image.new("RGB", (60, 30), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    upright = decode_photo(encode(wide, "JPEG", exif=exif.tobytes()))
    assert upright.size == (30, 60) and upright.mode == "RGB"
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert decode_photo(encode(transparent)).getpixel((5, 5)) == (255, 255, 255)
    webp = decode_photo(encode(Image.new("RGB", (20, 20), "blue"), "WEBP"))
    assert webp.size == (20, 20)


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"hello, I am text", "not an image"),
    (encode(Image.new("RGB", (64, 64)), "JPEG")[:200], "corrupt or truncated"),
])
def test_decode_photo_bad_input_says_why(data, message):
    with pytest.raises(DataError, match=message):
        decode_photo(data)


def test_decode_photo_refuses_huge_images():
    huge = encode(Image.new("L", (9000, 6000)))  # 54 megapixels, a tiny PNG
    with pytest.raises(DataError, match="too large"):
        decode_photo(huge)


def test_crop_face_is_a_48x48_grey_square_even_at_the_border():
    image = Image.new("RGB", (200, 100), (90, 90, 90))
    for box in (FaceBox(10, 10, 40, 60), FaceBox(170, 60, 30, 40), FaceBox(0, 0, 200, 100)):
        crop = crop_face(image, box, margin=0.2)
        assert crop.shape == (48, 48) and crop.dtype == np.uint8
        assert abs(int(crop.mean()) - 90) <= 2  # filled with the edge colour, not black


def test_analyze_photos_answers_every_photo(tiny_model):
    blank = encode(Image.new("RGB", (320, 240), (128, 128, 128)))
    photos = [("blank.png", blank), ("text.jpg", b"not an image"), ("face.png", encode(face_image(3, 1, 96)))]
    results = analyze_photos(answer_with(tiny_model, spec_for(detector="haar")), photos)
    assert [r.name for r in results] == ["blank.png", "text.jpg", "face.png"]
    assert results[0].no_face and results[1].error.startswith("not an image")
    fallback = analyze_photos(answer_with(tiny_model, spec_for(detector="haar")), photos[:1], whole_image_if_no_face=True)[0]
    assert fallback.whole_image and len(fallback.faces) == 1 and fallback.faces[0].box is None
    probs = fallback.faces[0].probabilities
    assert list(probs) == list(CLASSES) and abs(sum(probs.values()) - 1) < 1e-4
    whole = analyze_photos(answer_with(tiny_model, spec_for(whole_image=True)), photos[2:])[0]
    assert whole.whole_image and whole.faces[0].top in CLASSES


def test_a_face_crop_with_no_face_found_is_answered_whole_and_says_why(tiny_model, monkeypatch):
    """The face-crop rule (``AnswerSpec.whole_image_reason``): a small near-square photo that
    BlazeFace takes for a face somewhat is answered whole; a larger one, a long strip, one it does
    not take for a face or one with the setting off is not. Haar finds no face in these synthetic
    faces, and the face likeness is pinned here, so the rule alone decides."""
    import fer_core.answering.spec as spec_module

    likeness = {"value": 0.9}
    monkeypatch.setattr(spec_module, "face_likeness", lambda image, threads=0: likeness["value"])
    crop = encode(face_image(3, 1, 100, "RGB"))  # 100x100, as aligned datasets ship faces
    tall = encode(face_image(3, 1, 100, "RGB").resize((100, 180)))
    big = encode(face_image(3, 1, 100, "RGB").resize((300, 300)))
    spec = spec_for(detector="haar")
    answered = analyze_photos(answer_with(tiny_model, spec), [("crop.png", crop), ("tall.png", tall), ("big.png", big)])
    assert [r.whole_image for r in answered] == [True, False, False]
    assert "100x100 photo: answered whole" in answered[0].whole_image_reason and len(answered[0].faces) == 1
    assert answered[0].to_dict()["whole_image_reason"] == answered[0].whole_image_reason
    assert answered[1].no_face and answered[2].no_face
    off = analyze_photos(answer_with(tiny_model, spec_for(detector="haar", face_crops_whole=False)), [("crop.png", crop)])
    assert off[0].no_face and off[0].whole_image_reason is None
    likeness["value"] = 0.1  # a wall, a texture
    assert analyze_photos(answer_with(tiny_model, spec), [("crop.png", crop)])[0].no_face


@needs_photos
def test_face_likeness_tells_a_real_face_crop_from_a_flat_one():
    from fer_core.answering.spec import FACE_CROP_MIN_LIKENESS
    from fer_core.faces.detectors import detect_faces, face_likeness

    image = decode_photo((SHARED_PHOTOS / "fr_obama.jpg").read_bytes())
    box = detect_faces(image)[0]
    face = image.crop((box.x, box.y, box.x + box.width, box.y + box.height)).resize((100, 100))
    assert face_likeness(face) >= FACE_CROP_MIN_LIKENESS
    assert face_likeness(Image.new("RGB", (100, 100), (90, 120, 200))) < FACE_CROP_MIN_LIKENESS


def test_the_face_crop_rule_is_a_setting_the_entry_points_hand_down(monkeypatch):
    from fer_core.answering.spec import AnswerSpec
    from fer_core.errors import ConfigError
    from fer_core.settings import Settings

    assert AnswerSpec.resolve("quick", settings=Settings.load()).face_crops_whole
    monkeypatch.setenv("FER_FACE_CROPS_WHOLE", "off")
    assert not AnswerSpec.resolve("quick", settings=Settings.load()).face_crops_whole
    monkeypatch.setenv("FER_FACE_CROPS_WHOLE", "maybe")
    with pytest.raises(ConfigError, match="face_crops_whole .FER_FACE_CROPS_WHOLE. must be true or false"):
        Settings.load()


def test_whole_image_crop_matches_the_dataset_conversion(tiny_model):
    from fer_core.faces.images import decode_face_image
    from fer_core.runtime.model import predict_probabilities

    data = encode(face_image(2, 7, 120, "RGB"))
    by_hand = predict_probabilities(tiny_model, decode_face_image(data)[None])[0]
    result = analyze_photos(answer_with(tiny_model, spec_for(whole_image=True)), [("f.png", data)])[0]
    assert np.allclose([result.faces[0].probabilities[c] for c in CLASSES], by_hand, atol=1e-5)


def test_analyze_files_keeps_order_and_reports_missing(tiny_model, tmp_path):
    face_image(3, 1, size=200, mode="RGB").save(tmp_path / "big.png")
    results = analyze_files(answer_with(tiny_model, spec_for(whole_image=True)), [tmp_path / "missing.jpg", tmp_path / "big.png"])
    assert "No such file" in results[0].error and results[1].faces
    rows = results_rows(results)
    assert rows[0]["error"] and rows[1]["top"] in CLASSES and rows[1]["width"] == 200
    assert '"faces"' in results_json(results)


# The mtcnn package runs on TensorFlow only; under KERAS_BACKEND=jax it is refused (the last test here).
needs_tensorflow = pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                                      reason="the mtcnn package needs KERAS_BACKEND=tensorflow")


@needs_photos
@pytest.mark.parametrize("detector", [pytest.param("mtcnn", marks=needs_tensorflow), "haar"])
def test_detectors_find_the_faces_in_real_photos(detector, tiny_model):
    one = Image.open(SHARED_PHOTOS / "fr_obama.jpg")
    two = decode_photo((SHARED_PHOTOS / "fr_two_people.jpg").read_bytes())
    boxes = detect_faces(two, detector)
    assert len(boxes) >= 2
    for b in boxes[:2]:
        assert 50 < b.width < 400 and b.y < two.height / 2  # faces, in the top half of the picture
    assert len(detect_faces(one.convert("RGB"), detector)) >= 1


@needs_photos
@needs_tensorflow
def test_mtcnn_on_a_group_photo_end_to_end(tiny_model):
    data = (SHARED_PHOTOS / "fr_obama_and_biden.jpg").read_bytes()
    (result,) = analyze_photos(answer_with(tiny_model, spec_for(detector="mtcnn")), [("group.jpg", data)])
    assert len(result.faces) >= 2 and all(f.box.score >= 0.85 for f in result.faces)
    drawn = annotate(decode_photo(data), result)
    assert drawn.size == (result.width, result.height)
    rgba = (SHARED_PHOTOS / "fr_32bit.png").read_bytes()
    assert len(analyze_photos(answer_with(tiny_model, spec_for(detector="mtcnn")), [("rgba.png", rgba)])[0].faces) == 1


def test_mtcnn_off_tensorflow_is_refused_in_one_line(monkeypatch):
    """The mtcnn package's own code needs TensorFlow tensors; under JAX (a GPU set-up) it would fail
    deep inside with an AttributeError, so it is refused, naming the detectors that work."""
    import keras

    from fer_core.faces.detectors import MtcnnDetector
    from fer_core.errors import ConfigError

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ConfigError, match="mtcnn detector needs KERAS_BACKEND=tensorflow.*use blazeface or haar"):
        MtcnnDetector()
