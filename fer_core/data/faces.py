"""Faces in ordinary photos: decode a photo, find its faces, crop each like the training data.

Two detectors whose weights ship inside their pip packages, so nothing is downloaded:

* ``mtcnn``: the MTCNN cascade of small CNNs (package ``mtcnn``, TensorFlow). Finds more
  faces on our real test photos (``benchmarks/bench_faces.py``) and is the default.
* ``haar``: OpenCV's bundled frontal-face Haar cascade. Much faster, misses turned and
  small faces, and fires on some textures.

Photos are decoded with EXIF orientation applied and alpha composited on white; detection
runs on a copy scaled to at most ``DETECT_MAX_SIDE`` pixels and boxes are mapped back.
Each face is cropped as a square with a margin, turned grey and resized to 48x48 exactly
as the dataset loader converts training images (``images.image_to_face_array``). The Predict
page, ``predict`` and loading a dataset with ``detect_faces`` all crop through this module, so
a face is cropped the same way for training and for prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps

from fer_core.data.images import MAX_IMAGE_BYTES, DataError, flatten_alpha, image_to_face_array, open_image, to_8bit

DETECTORS = ("mtcnn", "haar")
DEFAULT_DETECTOR = "mtcnn"
DETECT_MAX_SIDE = 800
MAX_PHOTO_BYTES = MAX_IMAGE_BYTES
DEFAULT_MARGIN = 0.05  # FER2013 faces fill the frame; a tight crop matches them (checked by eye)


@dataclass
class FaceBox:
    """A face in original-image pixels; ``score`` is the detector's confidence where it has one."""

    x: int
    y: int
    width: int
    height: int
    score: float | None = None


# --------------------------------------------------------------------------- decoding


def decode_photo(data: bytes) -> Image.Image:
    """Photo bytes -> RGB image, EXIF-upright, alpha on white; a clear DataError otherwise."""
    if len(data) == 0:
        raise DataError("empty file")
    if len(data) > MAX_PHOTO_BYTES:
        raise DataError(f"file too large ({len(data) / 2**20:.0f} MB; the limit is {MAX_PHOTO_BYTES // 2**20} MB)")
    with open_image(data) as img:
        img.load()
        return flatten_alpha(to_8bit(ImageOps.exif_transpose(img))).convert("RGB")


# --------------------------------------------------------------------------- detectors


class HaarDetector:
    def __init__(self) -> None:
        import cv2

        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self._cascade.empty():
            raise RuntimeError("OpenCV's bundled Haar cascade could not be loaded")

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        grey = self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2GRAY)
        grey = self._cv2.equalizeHist(grey)
        found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        return [FaceBox(int(x), int(y), int(w), int(h)) for (x, y, w, h) in found]


class MtcnnDetector:
    min_confidence = 0.85

    def __init__(self) -> None:
        from mtcnn import MTCNN

        self._mtcnn = MTCNN(device="CPU:0")

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        found = self._mtcnn.detect_faces(rgb)
        return [FaceBox(*(int(v) for v in f["box"]), score=round(float(f["confidence"]), 4))
                for f in found if f["confidence"] >= self.min_confidence]


@lru_cache(maxsize=None)
def get_detector(name: str = DEFAULT_DETECTOR) -> HaarDetector | MtcnnDetector:
    """The detector called ``name``, built once per process (MTCNN takes seconds to build)."""
    if name == "haar":
        return HaarDetector()
    if name == "mtcnn":
        return MtcnnDetector()
    raise ValueError(f"unknown face detector '{name}'; expected one of {', '.join(DETECTORS)}")


def detect_faces(image: Image.Image, detector: str = DEFAULT_DETECTOR,
                 max_side: int = DETECT_MAX_SIDE) -> list[FaceBox]:
    """Faces in ``image``, largest first, in its own pixel coordinates; detection runs on a copy
    scaled to at most ``max_side`` pixels a side (video frames use less: they are many)."""
    scale = min(1.0, max_side / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    boxes = get_detector(detector).detect(np.asarray(small))
    mapped = []
    for b in boxes:
        x, y = round(b.x / scale), round(b.y / scale)
        w, h = round(b.width / scale), round(b.height / scale)
        x, y = max(0, x), max(0, y)
        w, h = min(w, image.width - x), min(h, image.height - y)
        if w > 0 and h > 0:
            mapped.append(FaceBox(x, y, w, h, b.score))
    return sorted(mapped, key=lambda b: -b.width * b.height)


def crop_face(image: Image.Image, box: FaceBox, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """A square crop around ``box`` grown by ``margin`` on each side, as a 48x48 grey face.

    Parts of the square outside the photo are filled by edge replication (via a clamped
    crop), so faces at the border keep their scale instead of being stretched.
    """
    side = max(box.width, box.height) * (1 + 2 * margin)
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    right, bottom = round(cx + side / 2), round(cy + side / 2)
    pad = max(0, -left, -top, right - image.width, bottom - image.height)
    if pad:
        image = ImageOps.expand(image, border=pad, fill=_edge_colour(image))
        left, top, right, bottom = left + pad, top + pad, right + pad, bottom + pad
    return image_to_face_array(image.crop((left, top, right, bottom)))


def _edge_colour(image: Image.Image) -> tuple[int, ...]:
    arr = np.asarray(image)
    edges = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return tuple(int(v) for v in np.median(edges, axis=0).reshape(-1))


def largest_face_crop(image: Image.Image, detector: str = DEFAULT_DETECTOR,
                      margin: float = DEFAULT_MARGIN) -> np.ndarray | None:
    """The largest face in ``image`` as a 48x48 grey crop (as Predict crops it), or None if there is none."""
    boxes = detect_faces(image, detector)
    return crop_face(image, boxes[0], margin) if boxes else None
