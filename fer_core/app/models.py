"""Models as the pages list them: the default, the bundled ones, finished runs', uploads and exports."""

from __future__ import annotations

from pathlib import Path


from fer_core.errors import DataError, FerError
from fer_core.fileio import save_by_content
from fer_core.settings import Settings
from fer_core.app.runs import finished_runs, run_label
from fer_core.app.session import settings


def exports_dir(config: Settings) -> Path:
    """Where the Results page's exports go (and where Predict looks for exported models)."""
    return config.runs_dir / "exports"


def adapted_dir(config: Settings) -> Path:
    """Where the Predict page's Adapt button writes adapted models (newest listed first)."""
    return config.runs_dir / "adapted"


def model_choices(config: Settings, exported: bool = False) -> dict[str, Path]:
    """Every model a page can show: the default (a promoted run's, if any), the bundled ones,
    finished runs', models adapted to the user's corrections, and models uploaded in this server, by a label (Results and Predict alike);
    with ``exported``, also the exported ``.onnx`` and ``.tflite`` models (Predict: they answer,
    but Results' analyses and heat maps need the Keras model)."""
    from fer_core.runtime.cards import EXPORTED_SUFFIXES, ModelCard
    from fer_core.runtime.loading import bundled_models, default_model_path

    def with_accuracy(label: str, path: Path) -> str:
        accuracy = ModelCard.read(path).accuracy
        return label + (f" ({accuracy:.1%} on PublicTest)" if accuracy else "")

    default = default_model_path(config)
    choices = {with_accuracy(f"Default model ({default.name})", default): default}
    choices.update({with_accuracy(f"Bundled: {name}", path): path for name, path in bundled_models().items()})
    choices.update({f"Run {run_label(r)}": r.model_path for r in finished_runs(config.runs_dir)})
    suffixes = (".keras", *EXPORTED_SUFFIXES) if exported else (".keras",)
    uploads = config.cache_dir / "model_uploads"
    if uploads.is_dir():
        choices.update({f"Uploaded: {p.name.split('-', 1)[-1]}": p for p in sorted(uploads.iterdir())
                        if p.suffix in suffixes})
    adapted = adapted_dir(config)
    if adapted.is_dir():
        choices.update({with_accuracy(f"Adapted: {p.name}", p): p for p in sorted(adapted.glob("*.keras"), reverse=True)})
    if exported and exports_dir(config).is_dir():
        choices.update({with_accuracy(f"Exported: {p.name}", p): p for p in sorted(exports_dir(config).iterdir())
                        if p.suffix in EXPORTED_SUFFIXES})
    return choices


def save_model_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded ``.keras`` (or exported ``.onnx``) file under a content-hashed name; it is
    loaded in safe mode (no code runs; an ONNX file is a graph of operations), and one that does not
    load or is not a face model is removed with a clear message."""
    from fer_core.runtime.loading import load_face_model
    from fer_core.runtime.exported import load_exported

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
