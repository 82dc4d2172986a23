"""Faces in ordinary photos: find them, crop them like the training data, classify them.

Two detectors whose weights ship inside their pip packages, so nothing is downloaded:

* ``mtcnn``: the MTCNN cascade of small CNNs (package ``mtcnn``, TensorFlow). Finds more
  faces on our real test photos (``benchmarks/bench_faces.py``) and is the default.
* ``haar``: OpenCV's bundled frontal-face Haar cascade. Much faster, misses turned and
  small faces, and fires on some textures.

Photos are decoded with EXIF orientation applied and alpha composited on white; detection
runs on a copy scaled to at most ``DETECT_MAX_SIDE`` pixels and boxes are mapped back.
Each face is cropped as a square with a margin, turned grey and resized to 48x48 exactly
as the dataset loader converts training images (``data.image_to_face_array``).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from fer_core.labels import CLASSES
from fer_core.data.loaders import MAX_IMAGE_PIXELS, DataError, flatten_alpha, image_to_face_array

DETECTORS = ("mtcnn", "haar")
DEFAULT_DETECTOR = "mtcnn"
DETECT_MAX_SIDE = 800
MAX_PHOTO_BYTES = 40 * 1024 * 1024
DEFAULT_MARGIN = 0.05  # FER2013 faces fill the frame; a tight crop matches them (checked by eye)


@dataclass
class FaceBox:
    """A face in original-image pixels; ``score`` is the detector's confidence where it has one."""

    x: int
    y: int
    width: int
    height: int
    score: float | None = None


@dataclass
class FaceResult:
    box: FaceBox | None  # None: the whole image was classified as one face
    probabilities: dict[str, float]
    crop: np.ndarray | None = field(default=None, repr=False)  # the 48x48 face the model saw

    @property
    def top(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)


@dataclass
class PhotoResult:
    name: str
    width: int = 0
    height: int = 0
    faces: list[FaceResult] = field(default_factory=list)
    whole_image: bool = False
    error: str | None = None

    @property
    def no_face(self) -> bool:
        return self.error is None and not self.faces

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"file": self.name, "error": self.error}
        return {
            "file": self.name,
            "width": self.width,
            "height": self.height,
            "whole_image": self.whole_image,
            "faces": [
                {"box": asdict(f.box) if f.box else None, "top": f.top, "probabilities": f.probabilities}
                for f in self.faces
            ],
        }


def results_json(results: list[PhotoResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2)


def results_rows(results: list[PhotoResult]) -> list[dict]:
    """One row per face (or per failed / faceless photo), for a CSV download."""
    rows = []
    for r in results:
        base = {"file": r.name}
        if r.error is not None or not r.faces:
            rows.append({**base, "face": None, "error": r.error or "no face found"})
            continue
        for k, face in enumerate(r.faces, start=1):
            box = face.box or FaceBox(0, 0, r.width, r.height)
            rows.append({**base, "face": k, "x": box.x, "y": box.y, "width": box.width, "height": box.height,
                         "detector_score": box.score, "top": face.top, **face.probabilities, "error": None})
    return rows


# --------------------------------------------------------------------------- decoding


def decode_photo(data: bytes) -> Image.Image:
    """Photo bytes -> RGB image, EXIF-upright, alpha on white; a clear DataError otherwise."""
    if len(data) == 0:
        raise DataError("empty file")
    if len(data) > MAX_PHOTO_BYTES:
        raise DataError(f"file too large ({len(data) / 2**20:.0f} MB; the limit is {MAX_PHOTO_BYTES // 2**20} MB)")
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():  # we refuse big images ourselves, with a clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise DataError(f"image too large ({img.width}x{img.height} pixels; the limit is "
                                f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels)")
            return flatten_alpha(ImageOps.exif_transpose(img)).convert("RGB")
    except Image.DecompressionBombError as exc:
        raise DataError(f"image too large ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise DataError("not an image (Pillow cannot read it)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"corrupt or truncated image ({exc})") from exc


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


def detect_faces(image: Image.Image, detector: str = DEFAULT_DETECTOR) -> list[FaceBox]:
    """Faces in ``image``, largest first, in its own pixel coordinates."""
    scale = min(1.0, DETECT_MAX_SIDE / max(image.size))
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


# --------------------------------------------------------------------------- end to end


def analyze_photos(model, photos: list[tuple[str, bytes]], detector: str = DEFAULT_DETECTOR,
                   margin: float = DEFAULT_MARGIN, whole_image_if_no_face: bool = False,
                   whole_image: bool = False) -> list[PhotoResult]:
    """Detect, crop and classify every face in every photo; one bad photo never stops the rest.

    ``whole_image`` skips detection (each photo is one face); ``whole_image_if_no_face``
    does that only for photos where the detector found nothing.
    """
    from fer_core.inference.evaluation import predict_probabilities

    results: list[PhotoResult] = []
    crops: list[np.ndarray] = []
    owners: list[tuple[PhotoResult, FaceBox | None]] = []
    for name, data in photos:
        result = PhotoResult(name)
        results.append(result)
        try:
            image = decode_photo(data)
        except DataError as exc:
            result.error = str(exc)
            continue
        result.width, result.height = image.size
        boxes: list[FaceBox | None] = [] if whole_image else list(detect_faces(image, detector))
        if not boxes and (whole_image or whole_image_if_no_face):
            result.whole_image = True
            boxes = [None]
        for box in boxes:
            crops.append(image_to_face_array(image) if box is None else crop_face(image, box, margin))
            owners.append((result, box))
    if crops:
        probabilities = predict_probabilities(model, np.stack(crops))
        for (result, box), crop, row in zip(owners, crops, probabilities):
            result.faces.append(FaceResult(box, {c: round(float(p), 6) for c, p in zip(CLASSES, row)}, crop))
    return results


def analyze_files(model, paths: list[str | os.PathLike], **options) -> list[PhotoResult]:
    """``analyze_photos`` for files on disk; an unreadable file gets its own error, in order."""
    readable: list[tuple[str, bytes]] = []
    unreadable: dict[int, PhotoResult] = {}
    for position, path in enumerate(paths):
        try:
            readable.append((str(path), Path(path).read_bytes()))
        except OSError as exc:
            unreadable[position] = PhotoResult(str(path), error=exc.strerror or str(exc))
    answered = iter(analyze_photos(model, readable, **options))
    return [unreadable[k] if k in unreadable else next(answered) for k in range(len(paths))]


def annotate(image: Image.Image, result: PhotoResult) -> Image.Image:
    """A copy of the photo with a numbered box and top expression per face."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    line = max(2, round(max(out.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(out.size) / 40)))
    for k, face in enumerate(result.faces, start=1):
        box = face.box or FaceBox(0, 0, out.width, out.height)
        x0, y0, x1, y1 = box.x, box.y, box.x + box.width - 1, box.y + box.height - 1
        draw.rectangle([x0, y0, x1, y1], outline=(255, 64, 0), width=line)
        label = f"{k}: {face.top} {face.probabilities[face.top]:.0%}"
        tx, ty = x0, max(0, y0 - font.size - 2 * line)
        text_box = draw.textbbox((tx, ty), label, font=font)
        draw.rectangle([text_box[0] - line, text_box[1] - line, text_box[2] + line, text_box[3] + line],
                       fill=(255, 64, 0))
        draw.text((tx, ty), label, fill="white", font=font)
    return out
