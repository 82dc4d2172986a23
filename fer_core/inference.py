"""Load models safely and classify face crops.

Models are loaded with Keras safe mode on and without compiling: a ``.keras`` file from a
user can describe layers, never run code. ``"default"`` names the bundled model in ``models/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from fer_core import CLASSES
from fer_core.data import DataError, decode_face_image
from fer_core.evaluation import predict_probabilities

BUNDLED_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL_NAME = "default.keras"


def default_model_path() -> Path:
    """The bundled default model (``FER_DEFAULT_MODEL`` overrides it)."""
    return Path(os.environ.get("FER_DEFAULT_MODEL", BUNDLED_MODELS_DIR / DEFAULT_MODEL_NAME))


def resolve_model_path(model: str | os.PathLike) -> Path:
    """``"default"`` -> the bundled model; a run directory -> its ``model.keras``; else the path."""
    if str(model) == "default":
        return default_model_path()
    path = Path(model)
    if path.is_dir():
        path = path / "model.keras"
    return path


def load_model(model: str | os.PathLike) -> keras.Model:
    path = resolve_model_path(model)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras model file")
    return keras.saving.load_model(path, safe_mode=True, compile=False)


@dataclass
class FilePrediction:
    file: str
    probabilities: dict[str, float] | None = None
    error: str | None = None

    @property
    def top(self) -> str | None:
        if not self.probabilities:
            return None
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        return {"file": self.file, "top": self.top, "probabilities": self.probabilities}


def predict_files(model: keras.Model, paths: list[str | os.PathLike]) -> list[FilePrediction]:
    """Classify each file as one face crop; an unreadable file gets an error, the rest answers."""
    results: list[FilePrediction] = []
    faces: list[np.ndarray] = []
    slots: list[int] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
            faces.append(decode_face_image(data))
            slots.append(len(results))
            results.append(FilePrediction(str(path)))
        except (OSError, DataError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            results.append(FilePrediction(str(path), error=reason))
    if faces:
        probabilities = predict_probabilities(model, np.stack(faces))
        for slot, row in zip(slots, probabilities):
            results[slot].probabilities = {name: round(float(p), 6) for name, p in zip(CLASSES, row)}
    return results
