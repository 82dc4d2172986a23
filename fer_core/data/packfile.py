"""``.ferpack``: a dataset of face images in as few bytes as possible, losslessly, for moving it.

Why: a GPU machine with no network gets the dataset and the code together, and some hosts cap
that at 64 MiB. FER2013's Kaggle copy is 32,298 JPEG files of 50.8 MB, 55.4 MB zipped; but
every one of them starts with the same 328-byte JPEG header (quantisation and Huffman tables,
frame and scan headers), and JPEG's entropy-coded data does not compress further. A pack
stores that header once and each file's remaining bytes after it: 40.3 MB, and every image
decodes to exactly the pixels of the original file (the bytes are the same).

Layout: a zip (members stored, the index deflated) holding

* ``ferpack.json``: format, version, image count, the source's name;
* ``index.json``: each image's path as in the source (``train/angry/Training_123.jpg``: the
  split and class come from it exactly as for the source itself), byte length, and whether it
  shares the header;
* ``header.bin``: the shared JPEG header;
* ``images.bin``: the images' bytes, one after another.

Files that are not JPEGs, or JPEGs with another header, are stored whole; a CSV dataset's
pixels are stored as PNG images. ``fer_core.data.loaders.load_dataset`` reads packs like any source.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACK_SUFFIX = ".ferpack"
FORMAT_NAME = "fer_core pack"
FORMAT_VERSION = 1
MAX_INDEX_BYTES = 64 * 2**20  # an index larger than this is not ours


class PackError(ValueError):
    """A file is not a readable pack; the message says why."""


@dataclass(frozen=True)
class PackedImage:
    name: str  # path inside the dataset, posix style
    data: bytes  # the image file's bytes, whole


def jpeg_header_length(data: bytes) -> int | None:
    """Bytes up to the end of a baseline JPEG's first scan header (SOS), or None if not a JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return None
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return pos if pos <= len(data) else None
    return None


def write_pack(images: list[PackedImage], out_path: str | os.PathLike, source: str) -> dict:
    """Write ``images`` as a pack at ``out_path`` (atomically); return its summary."""
    from fer_core.fileio import atomic_path

    headers = Counter(data[:n] for data in (image.data for image in images)
                      if (n := jpeg_header_length(data)) is not None)
    shared = headers.most_common(1)[0][0] if headers else b""
    names, lengths, share = [], [], []
    blob = io.BytesIO()
    for image in images:
        uses_header = bool(shared) and image.data.startswith(shared)
        body = image.data[len(shared):] if uses_header else image.data
        names.append(image.name)
        lengths.append(len(body))
        share.append(1 if uses_header else 0)
        blob.write(body)
    summary = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "images": len(images), "source": source,
               "shared_header_bytes": len(shared), "sharing_header": int(sum(share)),
               "image_bytes": blob.tell()}
    with atomic_path(out_path) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            zf.writestr("ferpack.json", json.dumps(summary, indent=1), compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr("index.json", json.dumps({"names": names, "lengths": lengths, "shares_header": share}),
                        compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr("header.bin", shared, compress_type=zipfile.ZIP_STORED)
            zf.writestr("images.bin", blob.getvalue(), compress_type=zipfile.ZIP_STORED)
    return {**summary, "file_bytes": Path(out_path).stat().st_size}


def read_pack(path: str | os.PathLike) -> list[PackedImage]:
    """Every image of a pack, with its original bytes; ``PackError`` if the file is not a sound pack."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = {info.filename: info for info in zf.infolist()}
            missing = {"ferpack.json", "index.json", "header.bin", "images.bin"} - set(members)
            if missing:
                raise PackError(f"{path}: not a dataset pack (missing {', '.join(sorted(missing))})")
            if members["index.json"].file_size > MAX_INDEX_BYTES or members["ferpack.json"].file_size > 2**20:
                raise PackError(f"{path}: the pack's index is implausibly large")
            meta = json.loads(zf.read("ferpack.json"))
            if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
                raise PackError(f"{path}: not a version-{FORMAT_VERSION} dataset pack")
            index = json.loads(zf.read("index.json"))
            header, blob = zf.read("header.bin"), zf.read("images.bin")
    except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, PackError):
            raise
        raise PackError(f"{path}: not a readable dataset pack ({exc})") from exc
    try:
        names, lengths, shares = index["names"], index["lengths"], index["shares_header"]
        ends = np.cumsum(np.asarray(lengths, dtype=np.int64))
        consistent = len(names) == len(lengths) == len(shares) and (len(ends) == 0 or ends[-1] == len(blob))
    except (KeyError, TypeError, ValueError):
        consistent = False
    if not consistent or any(n < 0 for n in lengths):
        raise PackError(f"{path}: the pack's index does not match its image bytes")
    starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
    return [PackedImage(str(name), (header if share else b"") + blob[start:end])
            for name, share, start, end in zip(names, shares, starts.tolist(), ends.tolist())]
