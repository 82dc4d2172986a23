"""Folders and zips of face images: each file's class and split from its name (``naming``), decoded
to 48x48 in threads (or, for whole photos, cropped to the largest face as Predict crops it)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from fer_core.data.archives import ZIP_OPEN_ERRORS, ArchiveEntry, folder_entries, open_zip, zip_entries
from fer_core.data.dataset import FERDataset, LoadOptions, LoadReport, Split, carve_val, order_splits, record_problem
from fer_core.faces.images import decode_face_image, image_to_face_array
from fer_core.data.naming import classify_entries, strip_common_root
from fer_core.errors import DataError


def _decode_all(
    items: list[tuple[ArchiveEntry, str | None, int]],
    report: LoadReport,
    strict: bool,
    progress: Callable[[int, int], None] | None,
    detect_faces: bool = False,
) -> list[tuple[str, str | None, int, np.ndarray]]:
    def work(item: tuple[ArchiveEntry, str | None, int]):
        entry, split, label = item
        try:
            if detect_faces:
                return (entry.name, split, label, *_face_of_photo(entry.read()), None)
            return entry.name, split, label, decode_face_image(entry.read()), True, None
        except DataError as exc:
            return entry.name, split, label, None, False, str(exc)

    decoded = []
    total = len(items)
    # The face detector is one shared model per process: photos go through it one at a time.
    workers = 1 if detect_faces else min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (name, split, label, array, found, error) in enumerate(pool.map(work, items, chunksize=256), 1):
            if error is not None:
                record_problem(report, strict, name, error)
            else:
                decoded.append((name, split, label, array))
                if not found:
                    report.no_face.append(name)
            if progress and (done % 1000 == 0 or done == total):
                progress(done, total)
    return decoded


def _face_of_photo(data: bytes) -> tuple[np.ndarray, bool]:
    """The photo's largest face cropped as Predict crops it, or the whole photo if none is found."""
    from fer_core.faces.images import decode_photo
    from fer_core.faces.cropping import largest_face_crop

    image = decode_photo(data)
    face = largest_face_crop(image)
    return (face, True) if face is not None else (image_to_face_array(image), False)


def _splits_from_images(decoded: list[tuple[str, str | None, int, np.ndarray]]) -> dict[str, Split]:
    by_split: dict[str, list[tuple[str, int, np.ndarray]]] = {}
    for name, split, label, array in decoded:
        by_split.setdefault(split or "train", []).append((name, label, array))
    splits = {}
    for split_name, rows in by_split.items():
        splits[split_name] = Split(
            images=np.stack([r[2] for r in rows]).astype(np.uint8),
            labels=np.array([r[1] for r in rows], dtype=np.int64),
            files=[r[0] for r in rows],
        )
    return splits


def load_image_tree(
    entries: list[ArchiveEntry], source: str, options: LoadOptions, progress: Callable[[int, int], None] | None
) -> FERDataset:
    report = LoadReport(source=source)
    entries = strip_common_root(entries)
    items = classify_entries(entries, report, options.strict)
    decoded = _decode_all(items, report, options.strict, progress, options.detect_faces)
    if not decoded:
        raise DataError(f"{source}: no usable images found ({report.summary()})")
    splits = carve_val(_splits_from_images(decoded), options)
    return FERDataset(order_splits(splits), report)


def image_entries_by_split(path: str | os.PathLike) -> list[tuple[str, str, bytes]]:
    """(split, name, bytes) of each image file in a folder or zip dataset, classified exactly as
    ``load_dataset`` classifies them ('train' where the source names no split); items it would
    skip are left out. For ``fer_core.data.pack``, which stores the files' own bytes."""
    path = Path(path).expanduser()

    def classified(entries: list[ArchiveEntry]) -> list[tuple[str, str, bytes]]:
        items = classify_entries(strip_common_root(entries), LoadReport(str(path)), strict=False)
        return [(split or "train", entry.name, entry.read()) for entry, split, _ in items]

    if path.is_dir():
        return classified(folder_entries(path))
    try:
        zf = open_zip(path)
    except DataError as exc:
        raise DataError(f"{path}: not a dataset folder or {exc}") from None
    try:
        with zf:  # a member's limits or damage are its own DataError, as load_dataset reports them
            return classified(zip_entries(zf))
    except ZIP_OPEN_ERRORS as exc:
        raise DataError(f"{path}: not a dataset folder or a valid zip file ({exc})") from None
