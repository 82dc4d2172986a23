"""Where a dataset's files come from: a zip (read member by member, under ``ArchiveLimits``) or a
folder, each file as an ``ArchiveEntry`` that reads its bytes only when asked."""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from fer_core.faces.images import MAX_IMAGE_BYTES, read_image_file
from fer_core.errors import DataError
from fer_core.settings import Settings


@dataclass
class ArchiveEntry:
    name: str  # path relative to the dataset root, posix style
    read: Callable[[], bytes]


@dataclass(frozen=True)
class ArchiveLimits:
    """What a zip may hold before it is refused (a zip bomb inflates a few MB into many GB). Sizes
    are the inflated sizes the zip declares, which are also the most Python reads of a member.
    Set with ``FER_ZIP_MAX_MEMBER_MB``, ``FER_ZIP_MAX_TOTAL_MB`` and ``FER_ZIP_MAX_MEMBERS``
    (``fer_core.settings``)."""

    max_member_bytes: int = MAX_IMAGE_BYTES  # one image, inflated: more is skipped as a bad item
    max_total_bytes: int = 2 * 2**30  # the whole zip, inflated (FER2013: 51 MB): more refuses the zip
    max_members: int = 500_000  # FER2013: 35,887 images

    @classmethod
    def from_settings(cls, settings: Settings) -> "ArchiveLimits":
        return cls(int(settings.zip_max_member_mb * 2**20), int(settings.zip_max_total_mb * 2**20),
                   settings.zip_max_members)


def zip_entries(zf: zipfile.ZipFile, limits: ArchiveLimits | None = None) -> list[ArchiveEntry]:
    """The zip's files, each read only when asked for; members over the size limit, encrypted,
    compressed with an unknown method or damaged fail alone, as bad items (``DataError``)."""
    limits = limits or ArchiveLimits()  # the entry point passes ArchiveLimits.from_settings(its settings)
    infos = [info for info in zf.infolist() if not info.is_dir()]
    if len(infos) > limits.max_members:
        raise DataError(f"the zip holds {len(infos):,} files; the limit is {limits.max_members:,} "
                        "(FER_ZIP_MAX_MEMBERS)")
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise DataError(f"the zip would inflate to {total / 2**20:,.0f} MB; the limit is "
                        f"{limits.max_total_bytes / 2**20:,.0f} MB (FER_ZIP_MAX_TOTAL_MB)")
    entries = []
    for info in infos:
        name = info.filename
        if "__MACOSX" in name.split("/") or PurePosixPath(name).name.startswith("."):
            continue
        entries.append(ArchiveEntry(name, lambda info=info: _read_member(zf, info, limits)))
    return entries


ZIP_OPEN_ERRORS = (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError, zlib.error)


def open_zip(source: str | os.PathLike | BinaryIO) -> zipfile.ZipFile:
    """``zipfile.ZipFile(source)``, or a ``DataError`` saying the file is not a valid zip: a mangled
    central directory can raise any of ``ZIP_OPEN_ERRORS`` (NotImplementedError for a made-up
    'zip file version 6.4', found by tests/test_fuzz.py's long run), not only BadZipFile."""
    try:
        return zipfile.ZipFile(source)
    except ZIP_OPEN_ERRORS as exc:
        raise DataError(f"not a valid zip file ({type(exc).__name__}: {exc})") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> bytes:
    if info.file_size > limits.max_member_bytes:
        raise DataError(f"zip member too large when inflated ({info.file_size / 2**20:,.0f} MB; the limit is "
                        f"{limits.max_member_bytes / 2**20:,.0f} MB)")
    try:
        return zf.read(info)
    except NotImplementedError as exc:  # (a RuntimeError too: it must come first)
        raise DataError(f"zip member compressed with a method Python cannot read ({exc})") from None
    except RuntimeError as exc:  # zipfile's word for an encrypted member
        raise DataError(f"encrypted zip member ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise DataError(f"damaged zip member ({type(exc).__name__}: {exc})") from None


def folder_entries(root: Path) -> list[ArchiveEntry]:
    """The folder's files (links followed to regular files only, when read: ``read_image_file``)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            full = Path(dirpath) / filename
            entries.append(ArchiveEntry(full.relative_to(root).as_posix(), lambda full=full: read_image_file(full)))
    return entries
