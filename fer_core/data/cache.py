"""The disk cache of decoded datasets: an ``.npz`` of the splits and a ``.json`` of the report,
keyed by a hash of the source's bytes and the load options, so a second load of FER2013 takes
about a second instead of the first decode's half a minute. A damaged entry is rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from fer_core.data.archives import folder_entries
from fer_core.data.dataset import FERDataset, LoadOptions, LoadReport, Problem, Split
from fer_core.errors import DataError
from fer_core.fileio import atomic_path, write_json_atomic

CACHE_FORMAT_VERSION = 1


def content_key(path: Path, options: LoadOptions) -> str:
    """A hash of the source's bytes (every file's, for a folder) and the load options."""
    digest = hashlib.sha256()
    digest.update(f"v{CACHE_FORMAT_VERSION}|{options.strict}|{options.val_fraction}|{options.seed}|"
                  f"{options.detect_faces}".encode())
    if path.is_dir():
        for entry in folder_entries(path):
            digest.update(entry.name.encode())
            digest.update(b"\0")
            try:
                digest.update(hashlib.sha256(entry.read()).digest())
            except DataError as exc:  # a file that will be skipped: what is wrong with it is its content here
                digest.update(f"unreadable: {exc}".encode())
    else:
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:32]


def save_cache(path: Path, dataset: FERDataset) -> None:
    arrays = {}
    for name, split in dataset.splits.items():
        arrays[f"{name}_images"] = split.images
        arrays[f"{name}_labels"] = split.labels
        arrays[f"{name}_files"] = np.array(split.files, dtype=np.str_)
    with atomic_path(path.with_suffix(".npz")) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_json_atomic(
        path.with_suffix(".json"),
        {
            "source": dataset.report.source,
            "splits": list(dataset.splits),
            "problems": [[p.item, p.reason] for p in dataset.report.problems],
            "no_face": dataset.report.no_face,
        },
    )


def load_cache(path: Path) -> FERDataset | None:
    meta_path, npz_path = path.with_suffix(".json"), path.with_suffix(".npz")
    if not (meta_path.exists() and npz_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(npz_path, allow_pickle=False) as npz:
            splits = {
                name: Split(npz[f"{name}_images"], npz[f"{name}_labels"], npz[f"{name}_files"].tolist())
                for name in meta["splits"]
            }
    except (OSError, ValueError, KeyError, json.JSONDecodeError, zipfile.BadZipFile):
        return None  # a damaged cache entry is rebuilt, never trusted
    report = LoadReport(meta["source"], [Problem(i, r) for i, r in meta["problems"]], from_cache=True,
                        no_face=list(meta.get("no_face", [])))
    return FERDataset(splits, report)
