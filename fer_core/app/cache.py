"""What the dashboard computes once per server and keeps: answerers (keyed by ``AnswerSpec``), the
answer for each photo, a model's probabilities on a split, duplicate searches; and the one
``ModelGate`` every model call of the server goes through.

Answerers (``AnswerSpec.load()``) are held with ``st.cache_resource`` under ``AnswerSpec.cache_key()``
(its fields and the modification times of the model file and its card), so a retrained or
recalibrated model is loaded again and nothing else is; the spec itself is passed unhashed. Each
is handed out taking its turns through the server's gate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from fer_core.app.datasets import dataset_key
from fer_core.app.session import settings
from fer_core.data.dataset import FERDataset
from fer_core.answering.answerer import Answerer
from fer_core.answering.gate import ModelGate
from fer_core.answering.spec import AnswerSpec


@st.cache_resource
def model_gate() -> ModelGate:
    """The server's one gate (the ``model_slots`` setting, ``FER_MODEL_SLOTS``)."""
    return ModelGate(settings().model_slots)


@st.cache_resource(show_spinner="Loading model ...", max_entries=8)
def _answerer(key: tuple, _spec: AnswerSpec) -> Answerer:  # noqa: ARG001  (key: what the spec depends on; _spec: not hashed)
    return _spec.load()


def cached_answerer(spec: AnswerSpec, slot=None) -> Answerer:
    """``spec.load()``, once per server (again when its model file or card changes), taking its
    turns at the model through the server's gate: ``slot``, by default ``model_gate().slot`` (the
    live camera's is ``turn_if_free``)."""
    return _answerer(spec.cache_key(), spec).with_slot(slot or model_gate().slot)


@st.cache_resource(show_spinner="Loading the model and the face detector ...", max_entries=8)
def _warm(key: tuple, _spec: AnswerSpec) -> bool:  # noqa: ARG001
    cached_answerer(_spec).warm()
    return True


def warm(spec: AnswerSpec) -> None:
    """Build what answering needs (``Answerer.warm``), once per server and spec: the Predict page
    calls this before any upload, so the first answer does not pay for it."""
    _warm(spec.cache_key(), spec)


@st.cache_data(show_spinner="Finding and classifying faces ...", max_entries=256)
def _analyze_photo(key: tuple, name: str, data: bytes, _spec: AnswerSpec):  # noqa: ARG001
    answerer = cached_answerer(_spec)
    with answerer.slot():
        (result,) = answerer.photos([(name, data)])
    return result


def analyze_cached(spec: AnswerSpec, photos: list[tuple[str, bytes]], whole_image_names: set[str] = frozenset()):
    """``Answerer.photos`` photo by photo, each cached on its bytes and the spec, so adding a photo to
    the uploads classifies only that one; those named in ``whole_image_names`` are one face each
    (the page's "Classify the whole image" button)."""
    import dataclasses

    whole = dataclasses.replace(spec, whole_image=True)
    return [_analyze_photo((whole if name in whole_image_names else spec).cache_key(), name, data,
                           whole if name in whole_image_names else spec) for name, data in photos]


def explain_faces(model_path: Path, crops: list[np.ndarray], classes: list[str]) -> list[np.ndarray]:
    """Heat-map pictures (HiResCAM over each 48x48 crop) for the named classes, through the model gate."""
    from fer_core.labels import CLASSES

    spec = AnswerSpec.resolve(model_path, tta="none", calibrated=False, settings=settings())
    explained = cached_answerer(spec).explain_crops(np.stack(crops), np.array([CLASSES.index(c) for c in classes]))
    return [entry["picture"] for entry in explained]


@st.cache_resource(show_spinner="Looking for duplicate images ...", max_entries=4)
def _duplicates(key: tuple, _dataset: FERDataset):  # noqa: ARG001  (key: which dataset; _dataset: not hashed)
    from fer_core.data.stats import find_duplicates

    return find_duplicates(_dataset)


def cached_duplicates(path: Path, dataset: FERDataset):
    return _duplicates(dataset_key(path), dataset)


@st.cache_resource(show_spinner="Looking for val faces with a copy in Training ...", max_entries=4)
def _copies(key: tuple, split_name: str, _dataset: FERDataset):  # noqa: ARG001  (key: which dataset)
    from fer_core.data.stats import held_out_copies

    return held_out_copies(_dataset, split_name)


def val_copies(path: Path, dataset: FERDataset, split_name: str) -> np.ndarray | None:
    """``held_out_copies``, once per server and dataset: what the figures "without copies" leave out."""
    return _copies(dataset_key(path), split_name, dataset)


def split_probabilities(model_path: Path, dataset_path: Path, dataset: FERDataset, split_name: str,
                        tta: str = "none") -> np.ndarray:
    """A model's class probabilities on one split: from fer_core's disk cache (keyed by the model
    file's hash, the dataset, split and TTA: instant after the first time, across restarts), or
    computed with a progress bar."""
    from fer_core.evaluation.analysis import cached_probabilities, predictions_cache_file

    cache_dir = settings().cache_dir
    if predictions_cache_file(Path(model_path), Path(dataset_path), split_name, tta, cache_dir).exists():
        return cached_probabilities(model_path, dataset_path, dataset, split_name, tta, cache_dir=cache_dir)
    bar = st.progress(0.0, text=f"Classifying {split_name} with {Path(model_path).name} ...")

    def report(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"Classifying {split_name}: {done:,} of {total:,} faces")

    try:
        with model_gate().slot():
            return cached_probabilities(model_path, dataset_path, dataset, split_name, tta, progress=report,
                                        cache_dir=cache_dir)
    finally:
        bar.empty()


@st.cache_resource(show_spinner=False, max_entries=2)
def _ferplus_votes(path: str, mtime_ns: int):  # noqa: ARG001 (mtime: a new file, a new entry)
    from fer_core.data.ferplus import read_ferplus

    return read_ferplus(path)


def ferplus_votes(config):
    """The FER+ votes file of the settings (``Settings.ferplus_votes_file``), read once per server and
    file version (2 MB of CSV: the Dataset and Results pages would read it on every rerun); None
    when there is none. A file that is not a FER+ file is a ``DataError``."""
    path = config.ferplus_votes_file()
    return None if path is None else _ferplus_votes(str(path), path.stat().st_mtime_ns)
