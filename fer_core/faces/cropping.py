"""Framing a face as FER2013 frames its faces: a square around the detector's box, grown by
``margin`` and moved down by ``shift_y`` (both fitted to FER2013's own framing:
``scripts/fit_framing.py``, docs/results.md), turned so its eyes are level where the detector found
them, made grey and resized to 48x48 exactly as the dataset loader converts training images
(``images.image_to_face_array``). Every path to the model crops faces here."""

from __future__ import annotations


import numpy as np
from PIL import Image, ImageOps

from fer_core.labels import IMAGE_SIZE
from fer_core.faces.boxes import FaceBox
from fer_core.faces.detectors import DEFAULT_DETECTOR, detect_faces
from fer_core.faces.images import image_to_face_array


DEFAULT_MARGIN = 0.0  # FER2013 faces fill the frame: fitted to its own framing (scripts/fit_framing.py, docs/results.md)
DEFAULT_SHIFT_Y = 0.02  # the crop's centre moved down by this share of the face's side (likewise fitted)


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
