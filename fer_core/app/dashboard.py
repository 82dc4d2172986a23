"""Streamlit glue shared by the pages: settings, cached dataset and model loading, uploads.

Only widget plumbing lives here; what is computed comes from the rest of fer_core. Datasets
and models are held with ``st.cache_resource`` (one copy per server, never pickled), so
switching pages or rerunning a page is instant after the first load.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from fer_core.data.dataset import FERDataset, LoadOptions
from fer_core.data.loaders import load_dataset
from fer_core.errors import ConfigError, DataError, FerError
from fer_core.fileio import save_by_content
from fer_core.settings import Settings, list_datasets, resolve_under_root
from fer_core.training.runs import RunRecord, RunRegistry

ACTIVE_DATASET_KEY = "active_dataset_path"

# Under KERAS_BACKEND=jax on a GPU (scripts/dashboard.sh --gpu), JAX takes 75% of the GPU's memory
# at its first operation, in each process; the server (Predict, Results) and each training job it
# starts are separate processes on one GPU, so the second would be short of memory. JAX's own advice
# for several processes (docs.jax.dev, "GPU memory allocation"): allocate as needed. Set before JAX
# first runs anything; jobs inherit it; a user's own setting wins. Nothing changes on a CPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that (``script_runner._clean_problem_modules``) for apps that build a new Keras
    model on each run; ours are loaded once per server (``cached_model``). Each call ran a full
    garbage collection and threw away the compiled predict functions, so the next answer compiled
    them again: with the live camera's panel redrawn every second, a py-spy profile of the server
    showed clear_session in 23% of its samples and a frame's analysis took 223 ms instead of 15 ms
    (docs/performance.md, "The live camera"). Its other cleanup, closing matplotlib's figures, is
    done as Streamlit does it (a test checks that the function is still there to replace).
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(getattr(script_runner, "_clean_problem_modules", None), "fer_keeps_keras", False):
        return

    def clean_but_keep_keras() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            with contextlib.suppress(Exception):
                pyplot.close("all")

    clean_but_keep_keras.fer_keeps_keras = True
    script_runner._clean_problem_modules = clean_but_keep_keras


_keep_keras_state_between_runs()


def start_page(title: str) -> None:
    """Each page's first call: its browser title and heading, under the app's own page list.

    Why the check: with a ``pages/`` folder beside it, Streamlit starts a server in its older
    multipage mode, in which it runs a page's file directly and lists the files' own names
    ("streamlit app", "Train and Tune") until some session first runs ``streamlit_app.py`` (its
    ``st.navigation`` switches the server over). A server whose first visitor opened a page's URL
    stayed in that mode. Here such a first run switches over and starts again, so every visitor
    gets the Home page's navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.set_page_config(page_title=f"{title} - FER Studio", page_icon=":performing_arts:", layout="wide")
    st.title(title)


def settings() -> Settings:
    """The server's settings (``fer_core.settings``: defaults < secrets.toml < environment), read at
    the top of each page and passed down. A broken secrets.toml or a bad value stops the page
    with one message naming it."""
    try:
        return Settings.load()
    except ConfigError as exc:
        st.error(f"FER Studio's settings cannot be read: {exc}")
        st.stop()
        raise  # st.stop() raises; this line is for readers and type checkers


@st.cache_resource(show_spinner=False)
def _dataset_store() -> dict[tuple, FERDataset]:
    return {}


def _dataset_key(path: Path) -> tuple:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def load_dataset_with_progress(path: str | os.PathLike, detect_faces: bool = False) -> FERDataset:
    """Load once per server (fer_core's disk cache underneath); a progress bar on first load.
    ``detect_faces``: whole photos, each cropped to its largest face as the Predict page crops."""
    path = Path(path)
    store = _dataset_store()
    key = (*_dataset_key(path), detect_faces)
    if key not in store:
        bar = st.progress(0.0, text=f"Loading {path.name} ...")

        def report(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"Loading {path.name}: {done:,} of {total:,} images")

        try:
            store[key] = load_dataset(path, LoadOptions(detect_faces=detect_faces), progress=report)
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


@st.cache_resource(show_spinner="Loading model ...", max_entries=8)
def _load_model_cached(path: str, mtime_ns: int, tta: str, calibrated: bool,  # noqa: ARG001  (mtime: the files)
                       card_mtime_ns: int, operating_point: bool = False):  # noqa: ARG001
    from fer_core.inference.loading import load_model

    return load_model(path, tta=tta, calibrated=calibrated, operating_point=operating_point)


def cached_model(path: str | os.PathLike, tta: str = "none", calibrated: bool = False, operating_point: bool = False):
    """The model, loaded once per server (again when its file or its card changes); ``calibrated``:
    with the temperature of its card applied (the Predict page's answers); ``operating_point``: with
    its card's per-class offsets too (the Predict page's switch)."""
    path = Path(path)
    from fer_core.inference.cards import card_path

    card = card_path(path)
    card_mtime = card.stat().st_mtime_ns if card.exists() else 0
    return _load_model_cached(str(path), path.stat().st_mtime_ns, tta, calibrated, card_mtime, operating_point)


@st.cache_resource(show_spinner="Loading the model and the face detector ...", max_entries=8)
def _warm(path: str, mtime: int, tta: str, detector: str,  # noqa: ARG001 (mtime: a new file, a new entry)
          operating_point: bool = False) -> bool:
    """Build what answering a photo needs (model, its compiled predict step, the detector), once
    per server: the Predict page calls this before any upload, so the first answer does not pay
    for it (building MTCNN alone takes seconds)."""
    import numpy as np

    from fer_core.data.detection import get_detector
    from fer_core.inference.runtime import predict_probabilities

    predict_probabilities(cached_model(path, tta, True, operating_point), np.zeros((1, 48, 48), dtype=np.uint8))
    get_detector(detector).detect(np.zeros((64, 64, 3), dtype=np.uint8))
    return True


def operating_point_of(model_path: Path) -> dict | None:
    """The operating point in a model's card (``operating-point``), if any."""
    from fer_core.inference.cards import read_model_card

    return (read_model_card(model_path) or {}).get("operating_point")


def warm_predict(model_path: Path, tta: str, detector: str, operating_point: bool = False) -> None:
    _warm(str(model_path), model_path.stat().st_mtime_ns, tta, detector, operating_point)


def registry(runs_dir: Path) -> RunRegistry:
    registry = RunRegistry(runs_dir)
    registry.reconcile()
    return registry


def finished_runs(runs_dir: Path) -> list[RunRecord]:
    """Runs with a model to look at (done ones, and killed ones that saved a best model)."""
    if not runs_dir.is_dir():
        return []
    return [r for r in registry(runs_dir).list() if (Path(r.run_dir) / "model.keras").exists()]


def run_rows(records: list[RunRecord], errors: bool = False) -> list[dict]:
    """One table row per run (Home's recent runs, Train & Tune's jobs): its id, kind, status, its
    figures (``val accuracy``, ``wall seconds``, ...) and, with ``errors``, why it failed."""
    return [{"run": r.run_id, "kind": r.kind, "status": r.status,
             **{name.replace("_", " "): value for name, value in r.metrics.items() if isinstance(value, float)},
             **({"error": r.error} if errors else {})} for r in records]


def run_label(record: RunRecord) -> str:
    accuracy = record.metrics.get("val_accuracy")
    score = f", val {accuracy:.1%}" if isinstance(accuracy, float) else ""
    return f"{record.run_id} ({record.status}{score})"


@st.cache_resource(show_spinner="Looking for duplicate images ...", max_entries=4)
def _duplicates(key: tuple, _dataset: FERDataset):  # noqa: ARG001  (key: which dataset; _dataset: not hashed)
    from fer_core.data.stats import find_duplicates

    return find_duplicates(_dataset)


def cached_duplicates(path: Path, dataset: FERDataset):
    return _duplicates(_dataset_key(path), dataset)


@st.cache_resource(show_spinner="Looking for val faces with a copy in Training ...", max_entries=4)
def _copies(key: tuple, split_name: str, _dataset: FERDataset):  # noqa: ARG001  (key: which dataset)
    from fer_core.data.stats import held_out_copies

    return held_out_copies(_dataset, split_name)


def val_copies(path: Path, dataset: FERDataset, split_name: str) -> "np.ndarray | None":
    """``held_out_copies``, once per server and dataset: what the figures "without copies" leave out."""
    return _copies(_dataset_key(path), split_name, dataset)


def split_probabilities(model_path: Path, dataset_path: Path, dataset: FERDataset, split_name: str,
                        tta: str = "none") -> "np.ndarray":
    """A model's class probabilities on one split: from fer_core's disk cache (keyed by the model
    file's hash, the dataset, split and TTA: instant after the first time, across restarts), or
    computed with a progress bar."""
    from fer_core.inference.analysis import cached_probabilities, predictions_cache_file

    if predictions_cache_file(Path(model_path), Path(dataset_path), split_name, tta).exists():
        return cached_probabilities(model_path, dataset_path, dataset, split_name, tta)
    bar = st.progress(0.0, text=f"Classifying {split_name} with {Path(model_path).name} ...")

    def report(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"Classifying {split_name}: {done:,} of {total:,} faces")

    try:
        with model_gate().slot():
            return cached_probabilities(model_path, dataset_path, dataset, split_name, tta, progress=report)
    finally:
        bar.empty()


def interval_metric(container, label: str, value: float, interval: list[float] | None, percent: bool = True,
                    help: str | None = None) -> None:
    """A figure with its 95% interval on the line under it (grey, no arrow)."""
    from fer_core.inference.statistics import interval_words

    container.metric(label, f"{100 * value:.2f}%" if percent else f"{value:.3f}", interval_words(interval, percent),
                     delta_color="off", delta_arrow="off", help=help)


def estimate_words(job) -> str:
    """A training job's time on this machine, measured now (``fer_core.training.train.estimate``), in
    one sentence; one model call at a time, as every page's."""
    from fer_core.training.hardware import device_description
    from fer_core.training.train import estimate

    with st.spinner("Timing 32 training steps of this recipe here ..."), model_gate().slot():
        plan = estimate(job)
    step = f"{plan.timing.step_seconds * 1000:.0f} ms a step, a val pass {plan.timing.val_pass_seconds:.1f} s"
    if plan.budget_seconds:
        return (f"On {device_description()}: the {plan.budget_seconds / 60:g}-minute budget fits {plan.epochs} "
                f"epochs ({step}), {plan.planned_seconds / 60:.1f} min planned"
                + ("" if plan.fits else "; not even one epoch fits: it trains one anyway") + ".")
    return (f"On {device_description()}: about {plan.planned_seconds / 60:.1f} min for {plan.epochs} epochs ({step}), "
            "besides loading the dataset the first time and any other job sharing the machine.")


def exports_dir(config: Settings) -> Path:
    """Where the Results page's exports go (and where Predict looks for exported models)."""
    return config.runs_dir / "exports"


def model_choices(config: Settings, exported: bool = False) -> dict[str, Path]:
    """Every model a page can show: the default (a promoted run's, if any), the bundled ones,
    finished runs', and models uploaded in this server, by a label (Results and Predict alike);
    with ``exported``, also the exported ``.onnx`` and ``.tflite`` models (Predict: they answer,
    but Results' analyses and heat maps need the Keras model)."""
    from fer_core.inference.cards import EXPORTED_SUFFIXES, read_model_card
    from fer_core.inference.loading import bundled_models, default_model_path

    def with_accuracy(label: str, path: Path) -> str:
        card = read_model_card(path) or {}
        accuracy = card.get("publictest_accuracy") or (card.get("publictest_metrics") or {}).get("accuracy")
        return label + (f" ({accuracy:.1%} on PublicTest)" if accuracy else "")

    default = default_model_path(config)
    choices = {with_accuracy(f"Default model ({default.name})", default): default}
    choices.update({with_accuracy(f"Bundled: {name}", path): path for name, path in bundled_models().items()})
    choices.update({f"Run {run_label(r)}": Path(r.run_dir) / "model.keras" for r in finished_runs(config.runs_dir)})
    suffixes = (".keras", *EXPORTED_SUFFIXES) if exported else (".keras",)
    uploads = config.cache_dir / "model_uploads"
    if uploads.is_dir():
        choices.update({f"Uploaded: {p.name.split('-', 1)[-1]}": p for p in sorted(uploads.iterdir())
                        if p.suffix in suffixes})
    if exported and exports_dir(config).is_dir():
        choices.update({with_accuracy(f"Exported: {p.name}", p): p for p in sorted(exports_dir(config).iterdir())
                        if p.suffix in EXPORTED_SUFFIXES})
    return choices


def export_for_download(model_path: Path, options, dataset_path: Path | None) -> tuple[Path, dict, bytes]:
    """Export a model into ``exports_dir`` (one model call at a time, as every page's): the file,
    its card and the bytes to download (a SavedModel folder as a zip)."""
    import dataclasses
    import io
    import zipfile

    from fer_core.inference.export import default_export_path, export_command, export_model

    options = dataclasses.replace(options, data=str(dataset_path) if dataset_path else None)
    out = default_export_path(model_path, options, exports_dir(settings()))
    with st.spinner(f"Exporting {model_path.name} to {options.format} ..."), model_gate().slot():
        card = export_model(model_path, out, options, command=export_command(model_path, out, options))
    if out.is_file():
        return out, card, out.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(out.rglob("*")):
            if file.is_file():
                archive.write(file, Path(out.name) / file.relative_to(out))
    return out, card, buffer.getvalue()


def save_model_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded ``.keras`` (or exported ``.onnx``) file under a content-hashed name; it is
    loaded in safe mode (no code runs; an ONNX file is a graph of operations), and one that does not
    load or is not a face model is removed with a clear message."""
    from fer_core.inference.loading import load_face_model
    from fer_core.inference.runtime import load_exported

    suffix = Path(name).suffix.lower()
    if suffix not in (".keras", ".onnx"):
        raise DataError(f"'{name}': upload a .keras model file (or an exported .onnx one)")
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).stem)
    path = save_by_content(settings().cache_dir / "model_uploads", data, suffix, name=stem, digits=12)
    try:
        if suffix == ".onnx":
            load_exported(path, label=f"'{name}'")  # one input, one output, 48x48x1 to 7
        else:
            load_face_model(path, label=f"'{name}'")  # safe mode refuses Lambda layers and unknown code
    except FerError:
        path.unlink(missing_ok=True)
        raise
    return path


class ModelGate:
    """At most ``slots`` model calls (detection and classification) at once across every session
    of this server; the others wait. Why: on a 2-core machine, eight sessions calling TensorFlow at
    once share the cores eight ways and each waits for all (upload-to-answer was p50 29 s with 8
    browser clients); taking turns keeps every answer as fast as the machine allows, and one heavy
    user's 50 photos go through in turns with everyone else's."""

    def __init__(self, slots: int):
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self.waiting = 0  # requests queued for a slot now
        self.busy = 0  # requests holding one

    @contextlib.contextmanager
    def slot(self):
        with self._lock:
            self.waiting += 1
        try:
            self._slots.acquire()
        finally:
            with self._lock:
                self.waiting -= 1
        with self._lock:
            self.busy += 1
        try:
            yield
        finally:
            with self._lock:
                self.busy -= 1
            self._slots.release()

    @contextlib.contextmanager
    def turn_if_free(self):
        """A slot only if one is free now and nobody is waiting for one; yields whether it got it.
        For a live stream's frames: a stream asks 15 or more times a second, and a semaphore does not
        serve waiters in order, so a stream that asked again at once could keep a waiting photo
        upload out. Without a turn the frame goes back with the last answer (``inference.live``)."""
        with self._lock:
            got = not self.waiting and self._slots.acquire(blocking=False)
            if got:
                self.busy += 1
        try:
            yield got
        finally:
            if got:
                with self._lock:
                    self.busy -= 1
                self._slots.release()


@st.cache_resource
def model_gate() -> ModelGate:
    """The server's one gate (the ``model_slots`` setting, ``FER_MODEL_SLOTS``)."""
    return ModelGate(settings().model_slots)


@st.cache_data(show_spinner="Finding and classifying faces ...", max_entries=256)
def _analyze_photo(model_path: str, model_mtime: int, tta: str, name: str, data: bytes,  # noqa: ARG001
                   detector: str, margin: float, whole_image: bool, operating_point: bool = False):
    from fer_core.inference.photos import analyze_photos

    with model_gate().slot():
        (result,) = analyze_photos(cached_model(model_path, tta, True, operating_point), [(name, data)], detector=detector,
                                   margin=margin, whole_image=whole_image)
    return result


def analyze_cached(model_path: Path, photos: list[tuple[str, bytes]], detector: str, margin: float,
                   whole_image_names: set[str], tta: str = "none", operating_point: bool = False):
    """``faces.analyze_photos`` photo by photo, each cached on its bytes and the settings, so
    adding a photo to the uploads classifies only that one."""
    mtime = model_path.stat().st_mtime_ns
    return [_analyze_photo(str(model_path), mtime, tta, name, data, detector, margin, name in whole_image_names,
                           operating_point) for name, data in photos]


def explain_faces(model_path: Path, crops: list[np.ndarray], classes: list[str]) -> list[np.ndarray]:
    """Heat-map pictures (HiResCAM over each 48x48 crop) for the named classes, through the model gate."""
    from fer_core.inference.explain import explain_faces as explain
    from fer_core.labels import CLASSES

    with model_gate().slot():
        explained = explain(cached_model(model_path), np.stack(crops), np.array([CLASSES.index(c) for c in classes]))
    return [entry["picture"] for entry in explained]
