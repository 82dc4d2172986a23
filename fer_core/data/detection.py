"""Faces in ordinary photos and frames: decode a photo, find its faces, crop each like the
training data, and say where the head is turned.

Three detectors whose weights ship inside their pip packages, so nothing is downloaded:

* ``blazeface`` (the default): MediaPipe's BlazeFace full-range model on LiteRT
  (``fer_core.data.blazeface``), which searches 2x2 tiles of images from 768 px as well. On the 39
  shared photos it finds all 44 people (MTCNN 43) in a tenth of MTCNN's time or less
  (docs/performance.md, ``benchmarks/bench_faces.py``), and gives six landmarks per face (eyes,
  nose tip, mouth, ears).
* ``mtcnn``: the MTCNN cascade of small CNNs (package ``mtcnn``, TensorFlow), with five landmarks.
* ``haar``: OpenCV's bundled frontal-face Haar cascade: misses turned and small faces, fires on
  some textures; no landmarks.

Photos are decoded with EXIF orientation applied and alpha composited on white; MTCNN and Haar
run on a copy scaled to at most ``DETECT_MAX_SIDE`` pixels (BlazeFace letterboxes the image, and
its tiles, into its own input) and boxes are mapped back. Each face is cropped as a square with a margin around its box,
turned so its eyes are level where the detector found them (``aligned``), made grey and resized
to 48x48 exactly as the dataset loader converts training images (``images.image_to_face_array``).
The Predict page, ``predict``, videos, collections, the live camera, ``explain`` and loading a
dataset with ``detect_faces`` all find and crop faces through this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from fer_core.labels import IMAGE_SIZE
from fer_core.data.images import MAX_IMAGE_BYTES, flatten_alpha, image_to_face_array, open_image, to_8bit
from fer_core.errors import ConfigError, DataError
from fer_core.settings import Settings

DEFAULT_DETECTOR = "blazeface"
WHOLE_IMAGE = "none"  # as a detector setting (CLI, serve): no detection, each image is one face
DETECT_MAX_SIDE = 800
MAX_PHOTO_BYTES = MAX_IMAGE_BYTES
DEFAULT_MARGIN = 0.0  # FER2013 faces fill the frame: fitted to its own framing (scripts/fit_framing.py, docs/results.md)
DEFAULT_SHIFT_Y = 0.02  # the crop's centre moved down by this share of the face's side (likewise fitted)


@dataclass
class FaceBox:
    """A face in original-image pixels; ``score`` is the detector's confidence where it has one;
    ``eyes`` the centres of the subject's right and left eye (image left and right in a frontal
    face), ``nose`` and ``mouth`` their points, where the detector gives landmarks."""

    x: int
    y: int
    width: int
    height: int
    score: float | None = None
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    nose: tuple[float, float] | None = None
    mouth: tuple[float, float] | None = None

    def scaled(self, scale: float) -> "FaceBox":
        """The box and landmarks in an image ``1 / scale`` times this one's size."""
        def point(p):
            return None if p is None else (round(p[0] / scale, 1), round(p[1] / scale, 1))

        return FaceBox(round(self.x / scale), round(self.y / scale), round(self.width / scale),
                       round(self.height / scale), self.score,
                       None if self.eyes is None else (point(self.eyes[0]), point(self.eyes[1])),
                       point(self.nose), point(self.mouth))

    def box_dict(self) -> dict:
        """Where the face is, for JSON: x, y, width, height and the detector's score."""
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height, "score": self.score}

    def landmarks_dict(self) -> dict | None:
        """The landmarks for JSON (None where the detector gives none)."""
        if self.eyes is None:
            return None
        return {"right_eye": list(self.eyes[0]), "left_eye": list(self.eyes[1]),
                "nose": None if self.nose is None else list(self.nose),
                "mouth": None if self.mouth is None else list(self.mouth)}

    def pose(self) -> "HeadPose | None":
        """Where the head is turned, from the landmarks (None without them): ``head_pose``."""
        return head_pose(self) if self.eyes is not None and self.nose is not None and self.mouth is not None \
            else None


@dataclass(frozen=True)
class HeadPose:
    """Degrees. ``yaw`` > 0: the face turned toward the image's right (the subject's left);
    ``pitch`` > 0: looking up; ``roll`` > 0: the head tilted so its eye line falls to the image's
    right (clockwise on screen). Estimated from four landmarks with no 3-D face model: its signs are
    tested (turned and mirrored faces), its size is a guide, not a measurement."""

    yaw: float
    pitch: float
    roll: float

    def as_dict(self) -> dict[str, float]:
        return {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll}


# A frontal face's nose tip sits this far from the eye line toward the mouth line (0.56: the median
# over the 43 faces BlazeFace finds in the shared photos, most of them frontal).
FRONTAL_NOSE_DEPTH = 0.56


def head_pose(box: FaceBox) -> HeadPose:
    """Yaw, pitch and roll from the eyes, nose tip and mouth. Roll is the eye line's angle. In the
    frame turned by it, yaw follows how far the nose tip sits beside the midline through the eyes'
    and mouth's centres (it swings out by about sin(yaw) x 0.6 of the eyes' distance), and pitch how
    far it sits below the eye line, as a share of the eyes-to-mouth distance, against a frontal face's."""
    (rx, ry), (lx, ly) = box.eyes
    roll = np.arctan2(ly - ry, lx - rx)
    cos, sin = np.cos(-roll), np.sin(-roll)

    def level(p):  # into the frame where the eyes are level, the eyes' centre at the origin
        x, y = p[0] - (rx + lx) / 2, p[1] - (ry + ly) / 2
        return x * cos - y * sin, x * sin + y * cos

    eye_distance = max(np.hypot(lx - rx, ly - ry), 1e-6)
    nose, mouth = level(box.nose), level(box.mouth)
    midline = mouth[0] * (nose[1] / mouth[1]) if abs(mouth[1]) > 1e-6 else 0.0
    yaw = np.degrees(np.arcsin(np.clip((nose[0] - midline) / (0.6 * eye_distance), -1, 1)))
    depth = nose[1] / mouth[1] if abs(mouth[1]) > 1e-6 else FRONTAL_NOSE_DEPTH
    pitch = np.degrees(np.arcsin(np.clip((FRONTAL_NOSE_DEPTH - depth) * 2, -1, 1)))
    return HeadPose(round(float(yaw), 1), round(float(pitch), 1), round(float(np.degrees(roll)), 1))


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
    scales_itself = False

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
    scales_itself = False

    def __init__(self) -> None:
        import keras

        if keras.backend.backend() != "tensorflow":  # the package's code calls .numpy() on TensorFlow tensors
            raise ConfigError(f"the mtcnn detector needs KERAS_BACKEND=tensorflow (this process runs "
                              f"{keras.backend.backend()}); use blazeface or haar")
        from mtcnn import MTCNN

        self._mtcnn = MTCNN(device="CPU:0")

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        found = self._mtcnn.detect_faces(rgb)
        boxes = []
        for f in found:
            if f["confidence"] < self.min_confidence:
                continue
            k = f.get("keypoints") or {}
            points = {name: tuple(float(v) for v in k[name]) for name in
                      ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right") if name in k}
            landmarks = {}
            if len(points) == 5:  # MTCNN's "left"/"right" are the image's; the subject's right eye is image-left
                eyes = sorted([points["left_eye"], points["right_eye"]])
                mouth = tuple((a + b) / 2 for a, b in zip(points["mouth_left"], points["mouth_right"]))
                landmarks = {"eyes": (eyes[0], eyes[1]), "nose": points["nose"], "mouth": mouth}
            boxes.append(FaceBox(*(int(v) for v in f["box"]), score=round(float(f["confidence"]), 4), **landmarks))
        return boxes


class BlazeFaceDetector:
    """BlazeFace's full-range model (``fer_core.data.blazeface``): boxes with eyes, nose and mouth.
    Its box is smaller than MTCNN's and sits lower: on the 43 faces both find in the shared photos
    MTCNN's is 1.16 times its side (median) and centred 0.07 of its height higher. The box is grown
    and moved by those medians, so crops are framed as the shipped models were measured with
    (``tests/data/test_blazeface.py`` checks the IoU with MTCNN's boxes)."""

    scales_itself = True  # it letterboxes the image into its 192x192 input itself
    BOX_SCALE = 1.16
    BOX_SHIFT_UP = 0.07
    PAD_SHARE = 0.5  # the fallback's border on each side, as a share of the image's longer side

    def __init__(self, fallback: bool = True) -> None:
        from fer_core.data.blazeface import BlazeFace

        self._threads = Settings.load().cpu_threads or 2
        self._model = BlazeFace("full", self._threads)
        self._fallback = fallback
        self._short = None

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """The full-range model's faces; where it finds none, the fallback's (``_large_faces``)."""
        found = self._model.detect(rgb)
        if not found and self._fallback and rgb.ndim == 3 and min(rgb.shape[:2]) >= 8:
            found = self._large_faces(rgb)
        return [self._face_box(f) for f in found]

    def _large_faces(self, rgb: np.ndarray) -> list:
        """A face that fills most of the image is one the full-range model (trained for faces up to a
        few metres away) often misses: FER2013's own faces scaled to fill 80% of a frame are found
        19.5% of the time by it alone, 98% with this fallback (95%: 7.5% and 98.5%; 200 faces,
        ``benchmarks/bench_large_faces.py``). Tried in turn: the
        short-range model (faces within about 2 m, i.e. large), then both on a copy with a border of
        the image's edge pixels (so the face is smaller in the frame); boxes mapped back."""
        from fer_core.data.blazeface import BlazeFace

        if self._short is None:
            self._short = BlazeFace("short", self._threads)
        found = self._short.detect(rgb, tiles=False)
        if found:
            return found
        pad = int(max(rgb.shape[:2]) * self.PAD_SHARE)
        padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        for model in (self._model, self._short):
            found = model.detect(padded, tiles=False)
            if found:
                return [_shifted(f, -pad, -pad) for f in found]
        return []

    def _face_box(self, found) -> FaceBox:
        x, y, w, h = found.box
        side_w, side_h = w * self.BOX_SCALE, h * self.BOX_SCALE
        cx, cy = x + w / 2, y + h / 2 - self.BOX_SHIFT_UP * h
        k = found.keypoints
        return FaceBox(int(round(cx - side_w / 2)), int(round(cy - side_h / 2)), int(round(side_w)),
                       int(round(side_h)), round(found.score, 4),
                       eyes=((float(k[0, 0]), float(k[0, 1])), (float(k[1, 0]), float(k[1, 1]))),
                       nose=(float(k[2, 0]), float(k[2, 1])), mouth=(float(k[3, 0]), float(k[3, 1])))


def _shifted(found, dx: float, dy: float):
    """A BlazeFace detection moved by (dx, dy) pixels (from a padded copy back to the image)."""
    import dataclasses

    x, y, w, h = found.box
    return dataclasses.replace(found, box=(x + dx, y + dy, w, h), keypoints=found.keypoints + np.array([dx, dy],
                                                                                                     np.float32))


class Detector(Protocol):
    """What a face detector is to the rest of fer_core: boxes (with landmarks where it has them) in
    the pixels of the RGB array it was given."""

    scales_itself: bool  # True: it scales the image to its own input (no DETECT_MAX_SIDE copy first)

    def detect(self, rgb: np.ndarray) -> list[FaceBox]: ...


@dataclass(frozen=True)
class DetectorEntry:
    """One row of the detector registry: its name (the CLI's, the pages' and the API's word for
    it), how to build it, and the sentence the pages show as its help."""

    name: str
    build: Callable[[], Detector]
    summary: str


DETECTOR_REGISTRY: dict[str, DetectorEntry] = {entry.name: entry for entry in (
    DetectorEntry("blazeface", BlazeFaceDetector, "fast; found all 44 people on the shared photos; levels each "
                                                  "face's eyes"),
    DetectorEntry("mtcnn", MtcnnDetector, "slower (TensorFlow only); found 43 of the 44"),
    DetectorEntry("haar", HaarDetector, "OpenCV's frontal cascade: misses turned faces; no landmarks"),
)}
DETECTORS = tuple(DETECTOR_REGISTRY)


def check_detector(name: str, allow_whole_image: bool = False) -> str:
    """``name`` if it is a registered detector (or, with ``allow_whole_image``, ``"none"``), else
    the one ``ConfigError`` that lists them."""
    if name in DETECTOR_REGISTRY or (allow_whole_image and name == WHOLE_IMAGE):
        return name
    choices = (*DETECTORS, *((WHOLE_IMAGE,) if allow_whole_image else ()))
    raise ConfigError(f"unknown face detector '{name}'; expected one of {', '.join(choices)}")


@lru_cache(maxsize=None)
def get_detector(name: str = DEFAULT_DETECTOR) -> Detector:
    """The detector called ``name``, built once per process (MTCNN takes seconds to build)."""
    return DETECTOR_REGISTRY[check_detector(name)].build()


def detect_faces(image: Image.Image, detector: str = DEFAULT_DETECTOR,
                 max_side: int = DETECT_MAX_SIDE) -> list[FaceBox]:
    """Faces in ``image``, largest first, in its own pixel coordinates; detection runs on a copy
    scaled to at most ``max_side`` pixels a side (video frames use less: they are many)."""
    finder = get_detector(detector)
    scale = 1.0 if finder.scales_itself else min(1.0, max_side / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    mapped = []
    for b in finder.detect(np.asarray(small)):
        b = b if scale == 1.0 else b.scaled(scale)
        x, y = max(0, b.x), max(0, b.y)
        w, h = min(b.width - (x - b.x), image.width - x), min(b.height - (y - b.y), image.height - y)
        if w > 0 and h > 0:
            mapped.append(FaceBox(x, y, w, h, b.score, b.eyes, b.nose, b.mouth))
    return sorted(mapped, key=lambda b: -b.width * b.height)


def crop_face(image: Image.Image, box: FaceBox, margin: float = DEFAULT_MARGIN, align: bool = True,
              shift_y: float = DEFAULT_SHIFT_Y) -> np.ndarray:
    """A square crop around ``box`` grown by ``margin`` on each side, as a 48x48 grey face; with
    ``align`` and the eyes known, turned about its centre so the eyes are level (FER2013's faces
    are upright: a tilted head is classified as if it were not). ``shift_y`` moves the square's
    centre down by that share of the box's side (up when negative).

    Parts of the square outside the photo are filled by edge replication, so faces at the border
    keep their scale instead of being stretched.
    """
    side = max(box.width, box.height) * (1 + 2 * margin)
    cx, cy = box.x + box.width / 2, box.y + box.height / 2 + shift_y * max(box.width, box.height)
    if align and box.eyes is not None:
        return _aligned_crop(image, cx, cy, side, box.eyes)
    left, top = round(cx - side / 2), round(cy - side / 2)
    right, bottom = round(cx + side / 2), round(cy + side / 2)
    pad = max(0, -left, -top, right - image.width, bottom - image.height)
    if pad:
        image = ImageOps.expand(image, border=pad, fill=_edge_colour(image))
        left, top, right, bottom = left + pad, top + pad, right + pad, bottom + pad
    return image_to_face_array(image.crop((left, top, right, bottom)))


ALIGNED_MAX_SIDE = 256  # the rotated square is sampled at the face's own size up to this, then resized as any crop


def _aligned_crop(image: Image.Image, cx: float, cy: float, side: float,
                  eyes: tuple[tuple[float, float], tuple[float, float]]) -> np.ndarray:
    """The square of ``side`` centred on (cx, cy), turned by the eye line's angle, sampled in one
    affine warp (edges replicated) at up to ``ALIGNED_MAX_SIDE`` pixels, then made a 48x48 grey face
    by the same resize as every other crop. Only the part of the photo the turned square can reach
    is converted to an array (once per face, so not the whole photo once per face)."""
    import cv2

    reach = side * 0.75  # half the square's diagonal (0.71 x side), and a margin for the interpolation
    left, top = max(0, int(cx - reach)), max(0, int(cy - reach))
    region = np.asarray(image.crop((left, top, min(image.width, int(np.ceil(cx + reach))),
                                    min(image.height, int(np.ceil(cy + reach))))))
    cx, cy = cx - left, cy - top  # clamped to the photo, so the region's edges are the photo's edges
    (rx, ry), (lx, ly) = eyes
    angle = np.arctan2(ly - ry, lx - rx)
    out = int(min(max(round(side), IMAGE_SIZE), ALIGNED_MAX_SIDE))
    k = side / out
    cos, sin = np.cos(angle) * k, np.sin(angle) * k
    # output pixel (u, v) samples the source at centre + R(angle) * k * (u - out/2, v - out/2)
    matrix = np.array([[cos, -sin, cx - (cos - sin) * out / 2],
                       [sin, cos, cy - (sin + cos) * out / 2]], dtype=np.float64)
    warped = cv2.warpAffine(region, matrix, (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    return image_to_face_array(Image.fromarray(warped))


def _edge_colour(image: Image.Image) -> tuple[int, ...]:
    arr = np.asarray(image)
    edges = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return tuple(int(v) for v in np.median(edges, axis=0).reshape(-1))


def largest_face_crop(image: Image.Image, detector: str = DEFAULT_DETECTOR,
                      margin: float = DEFAULT_MARGIN) -> np.ndarray | None:
    """The largest face in ``image`` as a 48x48 grey crop (as Predict crops it), or None if there is none."""
    boxes = detect_faces(image, detector)
    return crop_face(image, boxes[0], margin) if boxes else None
