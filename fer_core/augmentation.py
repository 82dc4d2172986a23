"""Training-time augmentation built from Keras preprocessing layers.

One ``strength`` knob in [0, 1] scales every transform, so a tuner can search a single
number. The layers are inactive at inference, so they can live inside the saved model.
"""

from __future__ import annotations

import keras
from keras import layers


def build_augmentation(strength: float, erasing: float = 0.0, seed: int | None = None) -> keras.Sequential | None:
    """Flip, small rotation, translation (a random crop of the padded image), zoom and contrast,
    plus random erasing of a patch with probability ``erasing``; ``None`` when both are 0."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"augmentation strength must be in [0, 1], got {strength}")
    if not 0.0 <= erasing <= 1.0:
        raise ValueError(f"erasing probability must be in [0, 1], got {erasing}")
    steps = []
    if strength > 0:
        steps += [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.05 * strength, fill_mode="nearest", seed=seed),
            layers.RandomTranslation(0.1 * strength, 0.1 * strength, fill_mode="nearest", seed=seed),
            layers.RandomZoom(0.1 * strength, fill_mode="nearest", seed=seed),
            layers.RandomContrast(0.3 * strength, value_range=(0, 255), seed=seed),
        ]
    if erasing > 0:
        steps.append(layers.RandomErasing(factor=erasing, scale=(0.02, 0.2), value_range=(0, 255), seed=seed))
    return keras.Sequential(steps, name="augmentation") if steps else None
