"""Photo collections: the image files of a zip or a folder, read one at a time, never extracted.

A zip is read in memory through the same checks a dataset zip gets (``loaders.zip_entries``:
member count, inflated size, encrypted or damaged members fail alone); member names, ``..`` or
absolute ones included, are only ever shown, never used as paths, so nothing of a zip is written
anywhere. A folder is walked without following links to other folders; files are read only if
regular and not too large (``images.read_image_file``). Files whose names do not end as an image
are listed as skipped with the reason, as are members that cannot be read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from fer_core.errors import DataError
from fer_core.settings import PHOTO_SET_LABELS
from fer_core.data.naming import IMAGE_EXTENSIONS
from fer_core.data.archives import ArchiveLimits, folder_entries, open_zip, zip_entries


LABELS_FILE = PHOTO_SET_LABELS  # a labelled photo set's labels, at its top (fer_core.evaluation.photo_evaluation)
TEXT_FILES = (LABELS_FILE,)


@dataclass
class PhotoSet:
    """The photos of a collection (name, a function that reads its bytes) and what was skipped."""

    photos: list[tuple[str, Callable[[], bytes]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    texts: dict[str, Callable[[], bytes]] = field(default_factory=dict)  # labels.csv at the top, if any


    def __len__(self) -> int:
        return len(self.photos)


@contextlib.contextmanager
def open_photo_set(source: str | os.PathLike | BinaryIO, max_photos: int | None = None,
                   limits: ArchiveLimits | None = None) -> Iterator[PhotoSet]:
    """The photos in a ``.zip`` or a folder (a path), or in an uploaded zip (a binary file object, read
    in memory), readable while the context is open; ``DataError`` for a source that is none of
    these, a zip the archive limits refuse, or a collection with no image file."""
    in_memory = hasattr(source, "read")
    path = None if in_memory else Path(source)
    with contextlib.ExitStack() as stack:
        if path is not None and path.is_dir():
            entries = folder_entries(path)
        elif in_memory or (path.suffix.lower() == ".zip" and path.is_file()):
            archive = stack.enter_context(open_zip(source))
            entries = zip_entries(archive, limits)
        else:
            raise DataError("a photo collection is a folder or a .zip of photos")
        collection = PhotoSet()
        for entry in entries:
            if PurePosixPath(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
                collection.photos.append((entry.name, entry.read))
            elif PurePosixPath(entry.name).name in TEXT_FILES and len(PurePosixPath(entry.name).parts) <= 2:
                collection.texts[PurePosixPath(entry.name).name] = entry.read  # a photo set's labels (at its top)
            else:
                collection.skipped.append((entry.name, "not an image file (by its name)"))
        if not collection.photos:
            raise DataError("no image files (jpg, png, webp, bmp, gif, tif) in the collection")
        if max_photos is not None and len(collection.photos) > max_photos:
            raise DataError(f"{len(collection.photos):,} photos; the limit is {max_photos:,} "
                            "(FER_MAX_COLLECTION_PHOTOS)")
        yield collection


def list_photo_folders(root: str | os.PathLike, max_depth: int = 3) -> list[str]:
    """Folders under ``root`` (``root`` itself as '.') that hold image files, relative to it, for a picker."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in filenames):
            found.append(here.relative_to(root).as_posix())
    return found


def list_labelled_photo_sets(root: str | os.PathLike, max_depth: int = 3) -> list[str]:
    """Folders under ``root`` that hold a labelled photo set, relative to it, for a picker: those with
    class-named sub-folders of images (``happy/``, ``sad/``, ...) or a ``labels.csv`` beside images."""
    from fer_core.data.naming import CLASS_SYNONYMS

    folders = list_photo_folders(root, max_depth + 1)
    sets = {PurePosixPath(f).parent.as_posix() for f in folders
            if PurePosixPath(f).name.lower() in CLASS_SYNONYMS and PurePosixPath(f).name != "."}
    sets |= {f for f in folders if (Path(root) / f / LABELS_FILE).is_file()}
    return sorted(sets)
