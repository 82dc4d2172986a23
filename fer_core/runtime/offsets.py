"""A card's operating point applied: per-class offsets on the log-probabilities (``p_c * exp(b_c)``,
renormalised), fitted by ``fer_core.evaluation.operating_points`` and applied only when asked."""

from __future__ import annotations


import numpy as np

from fer_core.labels import CLASSES


def apply_offsets(probabilities: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``p_c * exp(b_c)``, renormalised per face."""
    shifted = np.asarray(probabilities, dtype=np.float64) * np.exp(np.asarray(offsets, dtype=np.float64))
    return shifted / shifted.sum(axis=1, keepdims=True)


class WithOffsets:
    """A model (Keras or exported) whose probabilities have a card's offsets applied: used like a
    model by every Predict path (``predict_on_batch``, shapes, name)."""

    def __init__(self, model, offsets: dict[str, float]):
        self.model = model
        self.offsets = np.array([offsets.get(name, 0.0) for name in CLASSES])
        self.input_shape, self.output_shape = model.input_shape, model.output_shape
        self.name = f"{model.name}_operating_point"

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return apply_offsets(np.asarray(self.model.predict_on_batch(x)), self.offsets).astype(np.float32)
