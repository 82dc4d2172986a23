"""Load models safely.

Models are loaded with Keras safe mode on and without compiling: a ``.keras`` file from a
user can describe layers, never run code. ``"default"`` names the bundled model in ``models/``.
An exported ``.onnx`` or ``.tflite`` file is loaded by ``fer_core.runtime.exported``, without
TensorFlow (it holds a graph of tensor operations, no code either).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fer_core.errors import ConfigError, ModelError, first_line
from fer_core.runtime.cards import EXPORTED_SUFFIXES, ModelCard, is_exported
from fer_core.runtime.devices import keep_off_gpus
from fer_core.runtime.exported import load_exported
from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.settings import PROJECT_ROOT, Settings
from fer_core.run_files import MODEL_FILE

if TYPE_CHECKING:
    import keras

    from fer_core.runtime.model import FaceModel


DEFAULT_MODEL_NAME = "default.keras"
KERAS_SUFFIX = ".keras"
INSTALLED_MODELS = "_bundled/models"  # where a wheel carries models/, inside fer_core (pyproject.toml)


def bundled_models_dir() -> Path:
    """``models/`` of the checkout, else (an installed wheel, no checkout) the copy the wheel
    carries inside the package, found through ``importlib.resources``."""
    checkout = PROJECT_ROOT / "models"
    if (checkout / DEFAULT_MODEL_NAME).is_file():
        return checkout
    return Path(str(importlib.resources.files("fer_core").joinpath(INSTALLED_MODELS)))


def keras_installed() -> bool:
    return importlib.util.find_spec("keras") is not None


def bundled_model_path() -> Path:
    """``default.keras``; where Keras is not installed (the wheel's base install), its ONNX export
    ``default.onnx`` (the same answers: parity in its card), which onnxruntime runs."""
    keras_file = bundled_models_dir() / DEFAULT_MODEL_NAME
    onnx_file = keras_file.with_suffix(".onnx")
    return onnx_file if not keras_installed() and onnx_file.is_file() else keras_file


def bundled_models() -> dict[str, Path]:
    """The other models shipped in ``models/`` (an ensemble, the reference CNN), by file stem."""
    return {path.stem: path for path in sorted(bundled_models_dir().glob("*.keras")) if path.name != DEFAULT_MODEL_NAME}


def promoted_model_path(runs_dir: str | os.PathLike) -> Path:
    """Where a run's model goes when promoted to default, under the runs folder (the bundled file is
    never overwritten)."""
    return Path(runs_dir) / "promoted" / DEFAULT_MODEL_NAME


def default_model_path(settings: Settings | None = None) -> Path:
    """The ``default_model`` setting if set, else a promoted run's model if any, else the bundled
    model. ``settings``: what the entry point read (``Settings.load``); None: the built-in defaults."""
    settings = settings or Settings()
    if settings.default_model:
        return settings.default_model
    promoted = promoted_model_path(settings.runs_dir)
    return promoted if promoted.exists() else bundled_model_path()


def resolve_model_path(model: str | os.PathLike, settings: Settings | None = None) -> Path:
    """``"default"`` -> the default model; a bundled model's name (``"quick"``) -> its file in
    ``models/``; a run directory -> its ``model.keras``; else the path."""
    if str(model) == "default":
        return default_model_path(settings)
    path = Path(model)
    if not path.exists() and str(model) in bundled_models():
        return bundled_models()[str(model)]
    if path.is_dir():
        path = path / MODEL_FILE
    return path


def existing_model_path(model: str | os.PathLike, settings: Settings | None = None, *,
                        keras_only: bool = False) -> Path:
    """``resolve_model_path``, checked: the file must exist and be a ``.keras`` file or, unless
    ``keras_only`` (training from it, explaining it, calibrating it), an exported ``.onnx`` or
    ``.tflite`` file. Cheap (no TensorFlow), so the command line can refuse a wrong path before
    loading a backend."""
    path = resolve_model_path(model, settings)
    if not path.exists():
        raise ModelError(f"no model file at {path}")
    if keras_only and is_exported(path):
        raise ModelError(f"{path.name}: an exported model only answers; this needs the .keras model it was "
                         f"exported from")
    if path.suffix != KERAS_SUFFIX and not is_exported(path):
        raise ModelError(f"{path}: expected a .keras model file (or one exported to "
                         f"{' or '.join(EXPORTED_SUFFIXES)})")
    return path


def checked_face_model(model: "keras.Model", label: str) -> "keras.Model":
    """``model`` if it maps (48, 48, 1) grey faces to the 7 classes, else a ``ModelError`` saying
    what it maps instead: the one check every model a user brings passes (uploads, fine-tuning
    parents, distillation teachers)."""
    inputs = model.input_shape
    shape = tuple(inputs[1:]) if not isinstance(inputs, list) else None
    if shape != (IMAGE_SIZE, IMAGE_SIZE, 1) or model.output_shape[-1] != len(CLASSES):
        raise ModelError(f"{label}: maps inputs of shape {inputs} to {model.output_shape[-1]} outputs; FER Studio "
                         f"models map ({IMAGE_SIZE}, {IMAGE_SIZE}, 1) grey faces to the {len(CLASSES)} classes "
                         f"({', '.join(CLASSES)})")
    return model


def safe_load(path: str | os.PathLike, label: str | None = None) -> "keras.Model":
    """A ``.keras`` file loaded in safe mode, uncompiled. Any failure to load (a damaged file, a
    Lambda layer or other code that safe mode refuses) is a ``ModelError`` with Keras's first line."""
    import keras

    import fer_core.models  # noqa: F401  (registers fer_core's layers, which ensembles and TTA use)

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many kinds for a damaged or unsafe file; all mean "not usable"
        raise ModelError(f"{label or Path(path).name}: not a Keras model that loads in safe mode "
                         f"({type(exc).__name__}: {first_line(exc)})") from None


def load_face_model(path: str | os.PathLike, label: str | None = None) -> "keras.Model":
    """``safe_load``, then ``checked_face_model``: a model a user brings, ready to use."""
    return checked_face_model(safe_load(path, label), label or Path(path).name)


def load_model(model: str | os.PathLike, tta: str | None = None, calibrated: bool = False,
               operating_point: bool = False, settings: Settings | None = None) -> "FaceModel":
    """A model file loaded to answer, for code that measures it on a dataset split (``evaluate``,
    distillation's teachers, benchmarks); the Predict paths load through ``AnswerSpec.load()``.
    ``tta`` None: the model as it is; 'auto': the card's best; an export answers with the TTA inside
    it (naming another is ``ModelCard.answer_tta``'s one error). ``calibrated``, ``operating_point``: the card's."""
    path = existing_model_path(model, settings)
    card = ModelCard.read(path)
    return answering_model(path, card, card.answer_tta(tta, path.name), calibrated, operating_point)


def answering_model(path: Path, card: ModelCard, tta: str, calibrated: bool, operating_point: bool,
                    threads: int = 0, device: str = "cpu") -> "FaceModel":
    """The one builder of a model as it answers, from resolved values (``AnswerSpec.resolve``:
    ``tta`` a concrete mode, the card read once): safe mode, uncompiled; test-time augmentation
    ``tta`` around it; the card's temperature if ``calibrated``; its operating-point offsets if
    ``operating_point``. An export (``.onnx``, ``.tflite``) has its TTA and temperature inside and
    runs without TensorFlow (``threads``: onnxruntime's). ``device``: "cpu" or "gpu", resolved
    (``runtime.devices.resolve_device``)."""
    if is_exported(path):
        loaded = load_exported(path, threads=threads, card=card, device=device)
    else:
        keep_off_gpus(device, path)
        loaded = inference_graph(safe_load(path), card, tta, calibrated)
    if not operating_point:
        return loaded
    if card.operating_point is None:
        raise missing_operating_point(path)
    from fer_core.runtime.offsets import WithOffsets

    return WithOffsets(loaded, card.operating_point.offsets)


def missing_operating_point(path: Path) -> ConfigError:
    """The one error for asking a model without an operating point in its card to apply one."""
    return ConfigError(f"{path.name} has no operating point in its card: fit one with python -m fer_core "
                       f"operating-point {path} --data DATA --class fear --recall 0.6 (or --balanced)")


def inference_graph(model: "keras.Model", card: ModelCard, tta: str, calibrated: bool) -> "keras.Model":
    """``model`` as it answers: wrapped with test-time augmentation ``tta`` and, if ``calibrated``,
    the temperature of its ``card`` (what ``answering_model`` builds, and what ``export`` writes)."""
    import keras

    from fer_core.runtime.tta import with_tta

    wrapped = with_tta(model, tta)
    temperature = card.temperature if calibrated else None
    if temperature is None:
        return wrapped
    from fer_core.models.layers import Temperature

    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    return keras.Model(inputs, Temperature(float(temperature), name="calibration")(wrapped(inputs)),
                       name=f"{wrapped.name}_calibrated")
