"""The dashboard's session: settings, the page frame, datasets (loading, the active one, pickers,
uploads), the model list and the run registry as the pages show them.

Datasets are held with ``st.cache_resource`` (one copy per server, never pickled), so switching
pages or rerunning a page is instant after the first load.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from fer_core.data.dataset import FERDataset, LoadOptions
from fer_core.data.loaders import load_dataset
from fer_core.errors import ConfigError, DataError, FerError
from fer_core.fileio import save_by_content
from fer_core.settings import Settings, list_datasets, resolve_under_root
from fer_core.training.runs import RunRecord, RunRegistry

ACTIVE_DATASET_KEY = "active_dataset_path"
VAL_SPLIT = "val"  # what every split picker starts on: everything is chosen on PublicTest


def start_page(title: str) -> None:
    """Each page's first call: its browser title and heading, under the app's own page list.

    Why the check: with a ``pages/`` folder beside it, Streamlit starts a server in its older
    multipage mode, in which it runs a page's file directly and lists the files' own names
    ("streamlit app", "Train and Tune") until some session first runs ``streamlit_app.py`` (its
    ``st.navigation`` switches the server over). A server whose first visitor opened a page's URL
    stayed in that mode. Here such a first run switches over and starts again, so every visitor
    gets the Home page's navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    from fer_core.app.startup import start

    start()
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


def split_picker(container, splits: list[str], key: str, preferred: str = VAL_SPLIT, radio: bool = False) -> str:
    """A split chooser that starts on ``preferred`` (PublicTest, 'val', unless a run says otherwise)."""
    index = splits.index(preferred) if preferred in splits else 0
    if radio:
        return container.radio("Split", splits, index=index, horizontal=True, key=key)
    return container.selectbox("Split", splits, index=index, key=key)


def operating_point_of(model_path: Path) -> dict | None:
    """The operating point in a model's card (``operating-point``), if any."""
    from fer_core.inference.answering import model_card

    return model_card(model_path).operating_point


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


def exports_dir(config: Settings) -> Path:
    """Where the Results page's exports go (and where Predict looks for exported models)."""
    return config.runs_dir / "exports"


def model_choices(config: Settings, exported: bool = False) -> dict[str, Path]:
    """Every model a page can show: the default (a promoted run's, if any), the bundled ones,
    finished runs', and models uploaded in this server, by a label (Results and Predict alike);
    with ``exported``, also the exported ``.onnx`` and ``.tflite`` models (Predict: they answer,
    but Results' analyses and heat maps need the Keras model)."""
    from fer_core.inference.cards import EXPORTED_SUFFIXES, ModelCard
    from fer_core.inference.loading import bundled_models, default_model_path

    def with_accuracy(label: str, path: Path) -> str:
        accuracy = ModelCard.read(path).accuracy
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
