"""Load models safely.

Models are loaded with Keras safe mode on and without compiling: a ``.keras`` file from a
user can describe layers, never run code. ``"default"`` names the bundled model in ``models/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


BUNDLED_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL_NAME = "default.keras"


def bundled_model_path() -> Path:
    return BUNDLED_MODELS_DIR / DEFAULT_MODEL_NAME


def bundled_models() -> dict[str, Path]:
    """The other models shipped in ``models/`` (an ensemble, the reference CNN), by file stem."""
    return {path.stem: path for path in sorted(BUNDLED_MODELS_DIR.glob("*.keras")) if path.name != DEFAULT_MODEL_NAME}


def promoted_model_path(runs_dir: str | os.PathLike | None = None) -> Path:
    """Where a run's model goes when promoted to default (the bundled file is never overwritten)."""
    from fer_core.settings import Settings

    return Path(runs_dir or Settings.from_env().runs_dir) / "promoted" / DEFAULT_MODEL_NAME


def default_model_path() -> Path:
    """``FER_DEFAULT_MODEL`` if set, else a promoted run's model if any, else the bundled model."""
    if os.environ.get("FER_DEFAULT_MODEL"):
        return Path(os.environ["FER_DEFAULT_MODEL"])
    promoted = promoted_model_path()
    return promoted if promoted.exists() else bundled_model_path()


def resolve_model_path(model: str | os.PathLike) -> Path:
    """``"default"`` -> the default model; a bundled model's name (``"quick"``) -> its file in
    ``models/``; a run directory -> its ``model.keras``; else the path."""
    if str(model) == "default":
        return default_model_path()
    path = Path(model)
    if not path.exists() and str(model) in bundled_models():
        return bundled_models()[str(model)]
    if path.is_dir():
        path = path / "model.keras"
    return path


def existing_model_path(model: str | os.PathLike) -> Path:
    """``resolve_model_path``, checked: the file must exist and be a ``.keras`` file. Cheap (no
    TensorFlow), so the command line can refuse a wrong path before loading a backend."""
    path = resolve_model_path(model)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras model file")
    return path


def load_model(model: str | os.PathLike, tta: str = "none", calibrated: bool = False) -> "keras.Model":
    """Load in safe mode, uncompiled; ``tta`` ('flip', 'multicrop') wraps it with test-time
    augmentation; ``calibrated`` applies the temperature its card holds (``calibrate``), if any."""
    import keras

    import fer_core.models  # noqa: F401  (registers fer_core's layers, which ensembles and TTA use)
    from fer_core.inference.cards import read_model_card
    from fer_core.inference.tta import with_tta

    path = existing_model_path(model)
    loaded = with_tta(keras.saving.load_model(path, safe_mode=True, compile=False), tta)
    temperature = (read_model_card(path) or {}).get("temperature") if calibrated else None
    if not temperature or temperature == 1.0:
        return loaded
    from fer_core.labels import IMAGE_SIZE
    from fer_core.models.layers import Temperature

    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    return keras.Model(inputs, Temperature(float(temperature), name="calibration")(loaded(inputs)),
                       name=f"{loaded.name}_calibrated")
