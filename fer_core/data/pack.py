"""Packing a dataset into a ``.ferpack`` (the format: ``fer_core.data.packfile``): image files
keep their own bytes, a CSV's faces become lossless PNG images."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable

import numpy as np

from fer_core.data.dataset import SPLITS
from fer_core.errors import DataError
from fer_core.data.readers.image_tree import image_entries_by_split
from fer_core.data.loaders import load_dataset
from fer_core.data.packfile import PackedImage, write_pack
from fer_core.labels import CLASSES


def pixels_to_png(pixels: np.ndarray) -> bytes:
    """A (48, 48) uint8 face as PNG bytes (lossless), for packing a CSV dataset."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def pack_dataset(source: str | os.PathLike, out_path: str | os.PathLike, splits: list[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    """Pack a dataset (a Kaggle-layout zip or folder, class folders, or a CSV) into ``out_path``.

    Image files are stored as they are (the common JPEG header once); ``splits`` keeps only those
    splits (e.g. leave out ``test`` to keep PrivateTest off a machine). The pack loads into the same
    splits, classes and pixels as the source."""
    source = Path(source).expanduser()
    wanted = set(splits or SPLITS)
    unknown = wanted - set(SPLITS)
    if unknown:
        raise DataError(f"unknown split(s) {', '.join(sorted(unknown))}; splits are {', '.join(SPLITS)}")
    if source.suffix.lower() == ".csv":
        dataset = load_dataset(source, use_cache=False, progress=progress)
        images = [PackedImage(f"{split}/{CLASSES[label]}/{split}_{k:05d}.png", pixels_to_png(face))
                  for split, part in dataset.splits.items() if split in wanted
                  for k, (face, label) in enumerate(zip(part.images, part.labels))]
    else:
        images = [PackedImage(name, data) for split, name, data in image_entries_by_split(source) if split in wanted]
    if not images:
        raise DataError(f"{source}: no images to pack in the split(s) {', '.join(sorted(wanted))}")
    return write_pack(images, out_path, source=source.name)
