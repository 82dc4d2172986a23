"""BlazeFace on the real photos, checked against MTCNN; alignment geometry; head-pose signs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from fer_core.faces.blazeface import MODELS, BlazeFace, ssd_anchors
from fer_core.faces.boxes import FaceBox, head_pose
from fer_core.faces.cropping import crop_face
from fer_core.faces.images import decode_photo
from fer_core.faces.detectors import detect_faces
from tests.conftest import SHARED_PHOTOS, needs_photos

# People in the group photos, counted by eye (obama_and_biden has a child at the edge); one elsewhere.
PEOPLE = {"df_couple.jpg": 2, "fr_two_people.jpg": 2, "fr_obama_and_biden.jpg": 3, "fr_kit_with_rose.jpg": 2}


def photo_files():
    return sorted(p for p in SHARED_PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))


def square(box: FaceBox) -> tuple[float, float, float, float]:
    side = max(box.width, box.height)
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_anchor_counts_match_the_models_outputs():
    assert len(ssd_anchors(MODELS["short"])) == 896 and len(ssd_anchors(MODELS["full"])) == 2304
    for name in MODELS:
        detector = BlazeFace(name)
        assert detector.detect(np.zeros((240, 320, 3), np.uint8)) == []  # nothing in a black frame


@needs_photos
def test_finds_the_people_of_the_shared_photos():
    found = {p.name: len(detect_faces(decode_photo(p.read_bytes()), "blazeface")) for p in photo_files()}
    assert len(found) == 39
    wrong = {name: n for name, n in found.items() if n != PEOPLE.get(name, 1)}
    assert not wrong and sum(found.values()) == 44, wrong  # every person, nothing else (MTCNN: 43)


@needs_photos
def test_small_faces_in_a_large_frame_are_found_in_its_tiles():
    """20 faces 120 px wide in a 1280x720 frame: 18 px at the model's 192x192, too small alone."""
    face = decode_photo((SHARED_PHOTOS / "fr_obama.jpg").read_bytes())
    face = face.crop((face.width // 4, 0, face.width * 3 // 4, face.height // 2)).resize((120, 120))
    frame = Image.new("RGB", (1280, 720), (90, 90, 90))
    for k in range(20):
        frame.paste(face, (20 + (k % 5) * 250, 20 + (k // 5) * 175))
    detector = BlazeFace("full")
    assert len(detector.detect(np.asarray(frame), tiles=False)) < 10
    assert len(detector.detect(np.asarray(frame))) == 20  # 1280 px >= TILE_FROM: tiled


def synthetic_face(angle: float) -> tuple[Image.Image, FaceBox]:
    """A grey square with two black eyes 40 px apart, turned by ``angle`` degrees about its centre."""
    image = Image.new("RGB", (200, 200), (200, 200, 200))
    draw = ImageDraw.Draw(image)
    for x in (80, 120):
        draw.ellipse((x - 6, 94, x + 6, 106), fill=(0, 0, 0))
    draw.rectangle((90, 140, 110, 146), fill=(60, 60, 60))  # a mouth
    turned = image.rotate(angle, resample=Image.Resampling.BILINEAR, center=(100, 100), fillcolor=(200, 200, 200))
    theta = np.radians(-angle)  # PIL turns counter-clockwise on screen; image y points down

    def moved(x, y):
        dx, dy = x - 100, y - 100
        return (100 + dx * np.cos(theta) - dy * np.sin(theta), 100 + dx * np.sin(theta) + dy * np.cos(theta))

    box = FaceBox(40, 40, 120, 120, eyes=(moved(80, 100), moved(120, 100)), nose=moved(100, 122),
                  mouth=moved(100, 143))
    return turned, box


def eye_rows(face: np.ndarray) -> tuple[float, float]:
    """The rows of the darkest blob in the left and the right half of a 48x48 crop."""
    dark = face < 60
    rows = []
    for half in (dark[:30, :24], dark[:30, 24:]):
        ys, _ = np.nonzero(half)
        rows.append(float(ys.mean()))
    return rows[0], rows[1]


@pytest.mark.parametrize("angle", [-20, -12, 15, 20])
def test_aligned_crops_have_level_eyes(angle):
    image, box = synthetic_face(angle)
    left, right = eye_rows(crop_face(image, box, align=True))
    assert abs(left - right) <= 1.0
    left, right = eye_rows(crop_face(image, box, align=False))
    assert abs(left - right) >= 2.5  # without alignment the eyes stay as tilted as the head (14 px apart)


def test_head_pose_signs():
    _, level = synthetic_face(0)
    frontal = head_pose(level)
    assert abs(frontal.yaw) < 3 and abs(frontal.roll) < 1
    (rx, ry), (lx, ly) = level.eyes
    turned = FaceBox(0, 0, 1, 1, eyes=level.eyes, nose=(level.nose[0] + 10, level.nose[1]), mouth=level.mouth)
    assert head_pose(turned).yaw > 15  # nose toward the image's right: turned to the image's right
    up = FaceBox(0, 0, 1, 1, eyes=level.eyes, nose=(level.nose[0], ry + 0.3 * (level.mouth[1] - ry)),
                 mouth=level.mouth)
    assert head_pose(up).pitch > 10
    _, tilted = synthetic_face(-15)  # clockwise on screen
    assert head_pose(tilted).roll == pytest.approx(15, abs=1)


@needs_photos
def test_yaw_changes_sign_in_the_mirrored_photo():
    checked = 0
    for path in photo_files():
        image = decode_photo(path.read_bytes())
        faces, mirrored = detect_faces(image, "blazeface")[:1], detect_faces(ImageOps.mirror(image), "blazeface")[:1]
        if faces and mirrored and abs(faces[0].pose().yaw) >= 8:
            assert np.sign(mirrored[0].pose().yaw) == -np.sign(faces[0].pose().yaw), path.name
            checked += 1
    assert checked >= 5


@needs_photos
def test_a_face_that_fills_the_frame_is_found_by_the_fallback():
    """A tight crop of a face (the face about 90% of the frame, as in FER2013) is missed by the
    full-range model and found by the fallback, in the crop's own pixels; an empty frame stays empty."""
    from fer_core.faces.detectors import BlazeFaceDetector

    image = decode_photo((SHARED_PHOTOS / "fr_obama.jpg").read_bytes())
    (box,) = detect_faces(image)
    side = max(box.width, box.height) * 0.9
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    tight = np.asarray(image.crop((int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))))
    assert BlazeFaceDetector(fallback=False).detect(tight) == []
    (found,) = BlazeFaceDetector().detect(tight)
    centre = (found.x + found.width / 2, found.y + found.height / 2)
    assert abs(centre[0] - side / 2) < side * 0.15 and abs(centre[1] - side / 2) < side * 0.2
    assert found.width > side * 0.5 and found.eyes is not None
    assert BlazeFaceDetector().detect(np.full((300, 300, 3), 128, np.uint8)) == []
