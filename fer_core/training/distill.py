"""Knowledge distillation: soft labels from one or more teacher models."""

from __future__ import annotations

import numpy as np

from fer_core.inference.runtime import predict_probabilities
from fer_core.inference.loading import checked_face_model, load_model


def distillation_targets(teachers: list[str], images: np.ndarray, y: np.ndarray, weight: float) -> np.ndarray:
    """Soft labels for knowledge distillation: ``weight`` x the teachers' mean probabilities (each
    with flip TTA) on the uint8 faces ``images`` + (1 - ``weight``) x the one-hot labels ``y``.

    The teachers see each face once, unaugmented, before training (offline distillation): cheap
    on any backend, and the student's own augmentation stays inside its compiled step."""
    probabilities = np.zeros_like(y)
    for teacher in teachers:
        model = checked_face_model(load_model(teacher, tta="flip"), f"teacher {teacher}")
        probabilities += predict_probabilities(model, images) / len(teachers)
    return (weight * probabilities + (1 - weight) * y).astype("float32")
