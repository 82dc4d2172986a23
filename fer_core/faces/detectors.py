"""Finding faces: three detectors whose weights ship inside their pip packages, so nothing is
downloaded, in one registry (``DETECTOR_REGISTRY``: the CLI's, the pages' and the API's words).

* ``blazeface`` (the default): MediaPipe's BlazeFace full-range model on LiteRT
  (``fer_core.faces.blazeface``), which searches 2x2 tiles of images from 768 px as well. On the 39
  shared photos it finds all 44 people (MTCNN 43) in a tenth of MTCNN's time or less
  (docs/performance.md, ``benchmarks/bench_faces.py``), and gives six landmarks per face (eyes,
  nose tip, mouth, ears).
* ``mtcnn``: the MTCNN cascade of small CNNs (package ``mtcnn``, TensorFlow), with five landmarks.
* ``haar``: OpenCV's bundled frontal-face Haar cascade: misses turned and small faces, fires on
  some textures; no landmarks.

MTCNN and Haar run on a copy scaled to at most ``DETECT_MAX_SIDE`` pixels (BlazeFace letterboxes
the image, and its tiles, into its own input) and boxes are mapped back. ``threads`` (onnxruntime
and BlazeFace's CPU threads) is a value the caller hands down from its settings; each detector is
built once per (name, threads) in a process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image

from fer_core.errors import ConfigError
from fer_core.faces.boxes import FaceBox


DEFAULT_DETECTOR = "blazeface"
WHOLE_IMAGE = "none"  # as a detector setting (CLI, serve): no detection, each image is one face
DETECT_MAX_SIDE = 800


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
    """BlazeFace's full-range model (``fer_core.faces.blazeface``): boxes with eyes, nose and mouth.
    Its box is smaller than MTCNN's and sits lower: on the 43 faces both find in the shared photos
    MTCNN's is 1.16 times its side (median) and centred 0.07 of its height higher. The box is grown
    and moved by those medians, so crops are framed as the shipped models were measured with
    (``tests/faces/test_blazeface.py`` checks the IoU with MTCNN's boxes)."""

    scales_itself = True  # it letterboxes the image into its 192x192 input itself
    BOX_SCALE = 1.16
    BOX_SHIFT_UP = 0.07
    PAD_SHARE = 0.5  # the fallback's border on each side, as a share of the image's longer side

    def __init__(self, fallback: bool = True, threads: int = 0) -> None:
        from fer_core.faces.blazeface import BlazeFace

        self._threads = threads or 2  # 0: two, LiteRT's own choice on the 2-core machine
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
        from fer_core.faces.blazeface import BlazeFace

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
    build: Callable[[int], Detector]  # (threads) -> the detector; only BlazeFace uses the threads
    summary: str


DETECTOR_REGISTRY: dict[str, DetectorEntry] = {entry.name: entry for entry in (
    DetectorEntry("blazeface", lambda threads: BlazeFaceDetector(threads=threads), "fast; found all 44 people on the shared photos; levels each "
                                                  "face's eyes"),
    DetectorEntry("mtcnn", lambda threads: MtcnnDetector(), "slower (TensorFlow only); found 43 of the 44"),
    DetectorEntry("haar", lambda threads: HaarDetector(), "OpenCV's frontal cascade: misses turned faces; no landmarks"),
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
def get_detector(name: str = DEFAULT_DETECTOR, threads: int = 0) -> Detector:
    """The detector called ``name``, built once per process and thread count (MTCNN takes seconds
    to build)."""
    return DETECTOR_REGISTRY[check_detector(name)].build(threads)


def detect_faces(image: Image.Image, detector: str = DEFAULT_DETECTOR,
                 max_side: int = DETECT_MAX_SIDE, threads: int = 0) -> list[FaceBox]:
    """Faces in ``image``, largest first, in its own pixel coordinates; detection runs on a copy
    scaled to at most ``max_side`` pixels a side (video frames use less: they are many)."""
    finder = get_detector(detector, threads)
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


@lru_cache(maxsize=None)
def _short_range(threads: int):
    from fer_core.faces.blazeface import BlazeFace

    return BlazeFace("short", threads or 2)


def face_likeness(image: Image.Image, threads: int = 0) -> float:
    """How much BlazeFace's short-range model takes a whole image for a face: its best anchor score
    on the image with a border of its own edge pixels (half its longer side each way, as
    ``BlazeFaceDetector``'s fallback pads). For the face-crop rule: on 100x100 crops
    (``benchmarks/bench_face_crops.py``) 300 PublicTest faces scored 0.31 at the least, 84 crops of
    the shared photos away from faces 0.50 at the most (99th percentile 0.40), 60 textures 0.31."""
    rgb = np.asarray(image.convert("RGB"))
    pad = int(max(rgb.shape[:2]) * BlazeFaceDetector.PAD_SHARE)
    return _short_range(threads).best_score(np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
