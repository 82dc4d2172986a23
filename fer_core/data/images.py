"""One face image, bytes to a (48, 48) uint8 array: what the dataset loaders and the photo
pipeline (``faces``) share, and the error every data problem is reported with."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_core.labels import IMAGE_SIZE

# Pillow refuses images above this many pixels (decompression-bomb guard).
MAX_IMAGE_PIXELS = 50_000_000


class DataError(ValueError):
    """A dataset cannot be loaded; the message names the file or row and why."""


def decode_face_image(data: bytes) -> np.ndarray:
    """Decode image bytes (any size, colour or grey) to a (48, 48) uint8 face array.

    EXIF orientation is applied; alpha is composited on white; non-square images
    are centre-cropped to a square before resizing so faces keep their aspect.
    """
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)
            return image_to_face_array(img)
    except Image.DecompressionBombError as exc:
        raise DataError(f"image too large ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise DataError("not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"corrupt image ({exc})") from exc


def flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite any transparency on white (a transparent pixel is background, not black)."""
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return img


def image_to_face_array(img: Image.Image) -> np.ndarray:
    img = flatten_alpha(img).convert("L")
    if img.size != (IMAGE_SIZE, IMAGE_SIZE):
        img = ImageOps.fit(img, (IMAGE_SIZE, IMAGE_SIZE), method=Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)
