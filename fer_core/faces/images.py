"""One face image, bytes to a (48, 48) uint8 array: what the dataset loaders and the photo
pipeline (``detection``) share."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_core.errors import DataError
from fer_core.labels import IMAGE_SIZE

# Images above this many pixels are refused before they are decoded (decompression-bomb guard).
MAX_IMAGE_PIXELS = 50_000_000
# Image files above this many bytes are refused before they are read (checked with stat).
MAX_IMAGE_BYTES = 40 * 1024 * 1024


def too_large(width: int, height: int) -> DataError:
    """The one wording for an image over the pixel limit (datasets, photos, uploads alike)."""
    return DataError(f"image too large ({width}x{height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} "
                     "megapixels)")


def read_image_file(path: str | os.PathLike, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """A file's bytes, but only a regular file no larger than ``max_bytes``: its type and size are
    checked with ``stat`` before anything is read, so a FIFO (which would block), a device such as
    ``/dev/zero`` (which never ends) or a huge sparse file is refused at once. Symbolic links are
    followed to what they name; a dangling one is 'no such file'."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DataError(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe, device or socket)"
        raise DataError(kind)
    if info.st_size > max_bytes:
        raise DataError(f"file too large ({info.st_size / 2**20:.0f} MB; the limit is {max_bytes // 2**20} MB)")
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise DataError(exc.strerror or str(exc)) from None
    if len(data) > max_bytes:  # it grew since stat
        raise DataError(f"file too large (over {max_bytes // 2**20} MB)")
    return data


@contextlib.contextmanager
def open_image(data: bytes) -> Iterator[Image.Image]:
    """Open image bytes with Pillow, refusing an oversized image by its header, before decoding,
    and turning every decoder complaint into a ``DataError``."""
    Image.MAX_IMAGE_PIXELS = None  # our own check below, with one wording, comes first
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise too_large(img.width, img.height)
            yield img
    except UnidentifiedImageError as exc:
        raise DataError("not an image (Pillow cannot read it)") from exc
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, Image.DecompressionBombError,
            struct.error, ZeroDivisionError, IndexError, TypeError, KeyError) as exc:
        # Pillow's decoders raise all of these for damaged files (seen in the fuzz suite).
        raise DataError(f"corrupt or truncated image ({type(exc).__name__}: {exc})") from exc


def decode_face_image(data: bytes) -> np.ndarray:
    """Decode image bytes (any size, colour or grey, 1 to 32 bits) to a (48, 48) uint8 face array.

    EXIF orientation is applied; alpha is composited on white; 16-bit, 32-bit and float grey
    images are scaled to 8 bits; non-square images are centre-cropped to a square before
    resizing so faces keep their aspect.
    """
    with open_image(data) as img:
        img.load()
        return image_to_face_array(ImageOps.exif_transpose(img))


def to_8bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grey images as 8-bit grey (``convert('L')`` would clip
    them to white): values up to 255 are kept, up to 65,535 divided by 257, floats in [0, 1]
    times 255, anything else stretched from its own minimum to its maximum."""
    if img.mode not in ("I", "F") and not img.mode.startswith("I;16"):
        return img
    values = np.asarray(img, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if img.mode == "F" and low >= 0 and high <= 1:
        scaled = values * 255
    elif low >= 0 and high <= 255:
        scaled = values
    elif low >= 0 and high <= 65535:
        scaled = values / 257
    else:
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8), mode="L")


def flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite any transparency on white (a transparent pixel is background, not black)."""
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return img


def image_to_face_array(img: Image.Image) -> np.ndarray:
    img = flatten_alpha(to_8bit(img)).convert("L")
    if img.size != (IMAGE_SIZE, IMAGE_SIZE):
        img = ImageOps.fit(img, (IMAGE_SIZE, IMAGE_SIZE), method=Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


MAX_PHOTO_BYTES = MAX_IMAGE_BYTES  # a photo to find faces in: the same cap as any image

def decode_photo(data: bytes) -> Image.Image:
    """Photo bytes -> RGB image, EXIF-upright, alpha on white; a clear DataError otherwise."""
    if len(data) == 0:
        raise DataError("empty file")
    if len(data) > MAX_PHOTO_BYTES:
        raise DataError(f"file too large ({len(data) / 2**20:.0f} MB; the limit is {MAX_PHOTO_BYTES // 2**20} MB)")
    with open_image(data) as img:
        img.load()
        return flatten_alpha(to_8bit(ImageOps.exif_transpose(img))).convert("RGB")
