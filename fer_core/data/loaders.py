"""Load FER2013 in the forms users actually have, into uint8 (N, 48, 48) arrays.

Supported sources:

* the original ``fer2013.csv`` (columns ``emotion,pixels[,Usage]``);
* the Kaggle layout, as a folder or the ``.zip`` itself (``train/<class>/*.jpg``,
  ``test/<class>/*.jpg``); file-name prefixes ``Training_``, ``PublicTest_``,
  ``PrivateTest_`` give the standard splits train / val / test;
* any folder or zip of class sub-folders of face images (any size, colour or grey);
* a ``.ferpack`` made from any of these by ``python -m fer_core pack`` (``fer_core.data.pack``).

Where names carry no usage, ``train/`` is train, ``test/`` is test and val is a
stratified, seeded slice of train. Bad items are skipped and counted in the
``LoadReport`` unless ``strict=True``, which raises on the first one.
Decoded datasets are cached on disk keyed by the source's bytes.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable

from fer_core.data.archives import ArchiveLimits, folder_entries, open_zip, zip_entries
from fer_core.data.cache import content_key, load_cache, save_cache
from fer_core.data.dataset import FERDataset, LoadOptions
from fer_core.data.readers.csv_table import load_csv
from fer_core.data.readers.ferpack import load_pack
from fer_core.data.readers.image_tree import load_image_tree
from fer_core.errors import DataError
from fer_core.settings import default_cache_dir


def existing_dataset_path(path: str | os.PathLike) -> Path:
    """The dataset path, checked to exist (an empty path is an error, not the current folder)."""
    if not str(path).strip():
        raise DataError("no dataset given (an empty path)")
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"{path}: not a regular file or folder (a pipe, device or socket)")
    return path


def load_dataset(
    path: str | os.PathLike,
    options: LoadOptions | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    limits: ArchiveLimits | None = None,
) -> FERDataset:
    """Load a FER dataset from a CSV file, a zip, or a folder; see the module docstring.
    ``cache_dir`` and ``limits`` (a zip's): the entry point's settings (``Settings.load``) as values;
    None: the defaults."""
    options = options or LoadOptions()
    path = existing_dataset_path(path)
    cache_file = None
    if use_cache:
        cache_root = Path(cache_dir) if cache_dir else default_cache_dir()  # entry points pass theirs
        cache_file = cache_root / content_key(path, options)
        cached = load_cache(cache_file)
        if cached is not None:
            cached.report.source = str(path)
            return cached

    if path.is_dir():
        entries = folder_entries(path)
        if not entries:
            raise DataError(f"{path}: the folder is empty")
        dataset = load_image_tree(entries, str(path), options, progress)
    elif path.suffix.lower() == ".zip":
        try:
            zf = open_zip(path)
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None
        try:
            with zf:
                entries = zip_entries(zf, limits)
                if not entries:
                    raise DataError(f"{path}: the zip file holds no files")
                dataset = load_image_tree(entries, str(path), options, progress)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{path}: not a valid zip file ({exc})") from exc
    elif path.suffix.lower() == ".csv":
        dataset = load_csv(path, options, progress)
    elif path.suffix.lower() == ".ferpack":
        dataset = load_pack(path, options, progress)
    else:
        raise DataError(f"{path}: unsupported dataset (expected a .csv file, a .zip file, a .ferpack file or a "
                        "folder)")

    if cache_file is not None:
        try:
            save_cache(cache_file, dataset)
        except OSError:
            pass  # an unwritable cache only costs speed
    return dataset
