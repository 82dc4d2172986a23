"""Training-time augmentation built from Keras preprocessing layers.

One ``strength`` knob in [0, 1] scales every transform, so a tuner can search a single
number. The layers are inactive at inference, so they can live inside the saved model.
"""

from __future__ import annotations

import keras
from keras import layers


def build_augmentation(strength: float, seed: int | None = None) -> keras.Sequential | None:
    """Flip, small rotation, translation, zoom and contrast; ``None`` when strength is 0."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"augmentation strength must be in [0, 1], got {strength}")
    if strength == 0:
        return None
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.05 * strength, fill_mode="nearest", seed=seed),
            layers.RandomTranslation(0.1 * strength, 0.1 * strength, fill_mode="nearest", seed=seed),
            layers.RandomZoom(0.1 * strength, fill_mode="nearest", seed=seed),
            layers.RandomContrast(0.3 * strength, value_range=(0, 255), seed=seed),
        ],
        name="augmentation",
    )
