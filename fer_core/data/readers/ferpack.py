"""A ``.ferpack`` file (``fer_core.data.packfile``): its images' own bytes, read as an image tree."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from fer_core.data.archives import ArchiveEntry
from fer_core.data.dataset import FERDataset, LoadOptions
from fer_core.data.readers.image_tree import load_image_tree
from fer_core.errors import DataError


def load_pack(path: Path, options: LoadOptions, progress: Callable[[int, int], None] | None) -> FERDataset:
    from fer_core.data.packfile import PackError, read_pack

    try:
        images = read_pack(path)
    except PackError as exc:
        raise DataError(str(exc)) from exc
    entries = [ArchiveEntry(image.name, lambda data=image.data: data) for image in images]
    if not entries:
        raise DataError(f"{path}: the pack holds no images")
    return load_image_tree(entries, str(path), options, progress)
