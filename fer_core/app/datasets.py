"""Datasets as the pages show them: loading (held with ``st.cache_resource``, one copy per server,
never pickled, so switching pages or rerunning is instant after the first load), the active one,
the pickers and uploads."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from fer_core.data.archives import ArchiveLimits
from fer_core.data.dataset import FERDataset, LoadOptions
from fer_core.data.loaders import load_dataset
from fer_core.errors import DataError
from fer_core.fileio import save_by_content
from fer_core.settings import Settings, list_datasets, resolve_under_root
from fer_core.app.session import settings


ACTIVE_DATASET_KEY = "active_dataset_path"


@st.cache_resource(show_spinner=False)
def _dataset_store() -> dict[tuple, FERDataset]:
    return {}


def dataset_key(path: Path) -> tuple:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def load_dataset_with_progress(path: str | os.PathLike, detect_faces: bool = False) -> FERDataset:
    """Load once per server (fer_core's disk cache underneath); a progress bar on first load.
    ``detect_faces``: whole photos, each cropped to its largest face as the Predict page crops."""
    path = Path(path)
    store = _dataset_store()
    key = (*dataset_key(path), detect_faces)
    if key not in store:
        bar = st.progress(0.0, text=f"Loading {path.name} ...")

        def report(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"Loading {path.name}: {done:,} of {total:,} images")

        try:
            config = settings()
            store[key] = load_dataset(path, LoadOptions(detect_faces=detect_faces), progress=report,
                                      cache_dir=config.cache_dir, limits=ArchiveLimits.from_settings(config))
        finally:
            bar.empty()
    return store[key]


def active_dataset_path() -> Path | None:
    """The dataset chosen in this session; after a page reload, the one named in the URL
    (``?dataset=``), accepted only inside the data folder or the upload store."""
    value = st.session_state.get(ACTIVE_DATASET_KEY)
    if value:
        return Path(value)
    named = st.query_params.get("dataset")
    if not named:
        return None
    config = settings()
    for root in (config.data_root, config.cache_dir / "uploads"):
        try:
            path = resolve_under_root(root, named)
        except (ValueError, OSError):
            continue
        st.session_state[ACTIVE_DATASET_KEY] = str(path)
        return path
    return None


def set_active_dataset(path: str | os.PathLike) -> None:
    st.session_state[ACTIVE_DATASET_KEY] = str(path)
    st.query_params["dataset"] = str(path)


def save_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded dataset on disk under a content-hashed name (uploading twice stores once)."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".zip", ".csv"):
        raise DataError(f"'{name}': upload the Kaggle .zip or fer2013.csv")
    return save_by_content(settings().cache_dir / "uploads", data, suffix)


def dataset_candidates(config: Settings) -> list[Path]:
    """The datasets a page offers: those under the data folder, and the one chosen in this session
    (an upload) first if it is not among them. Train & Tune and Results pick from these, and Home
    names the first (what those pages start on)."""
    found = [resolve_under_root(config.data_root, c) for c in list_datasets(config.data_root)]
    active = active_dataset_path()
    if active is not None and active not in found:
        found.insert(0, active)
    return found


def dataset_picker(container, config: Settings, key: str) -> Path | None:
    """A select box of ``dataset_candidates``, on the session's active dataset; None when there is none."""
    candidates = dataset_candidates(config)
    if not candidates:
        return None
    active = active_dataset_path()
    return container.selectbox("Dataset", candidates, format_func=lambda p: p.name, key=key,
                               index=candidates.index(active) if active in candidates else 0)
