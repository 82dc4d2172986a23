"""Test-time augmentation as an ordinary Keras model: the mean of the model's answers over views.

Views: ``flip`` = the face and its mirror image; ``multicrop`` = those two, each also shifted
by ``MULTICROP_SHIFT`` pixels up, down, left and right (10 views). The wrapper's layers are
registered (``fer_core.models.layers``), so a wrapped model saves and loads in safe mode.
"""

from __future__ import annotations

import keras

from fer_core.labels import IMAGE_SIZE
from fer_core.models.layers import AverageProbabilities, HorizontalFlip, Shift
from fer_core.errors import ConfigError
from fer_core.runtime.cards import TTA_MODES

MULTICROP_SHIFT = 2


def tta_views(mode: str) -> list[tuple[bool, int, int]]:
    """(mirrored, dx, dy) for each view of a TTA mode."""
    if mode not in TTA_MODES:
        raise ConfigError(f"TTA must be one of {', '.join(TTA_MODES)}, got '{mode}'")
    if mode == "none":
        return [(False, 0, 0)]
    shifts = [(0, 0)]
    if mode == "multicrop":
        s = MULTICROP_SHIFT
        shifts += [(s, 0), (-s, 0), (0, s), (0, -s)]
    return [(mirrored, dx, dy) for mirrored in (False, True) for dx, dy in shifts]


def with_tta(model: keras.Model, mode: str = "flip") -> keras.Model:
    """``model`` wrapped to average its answers over the views of ``mode``."""
    views = tta_views(mode)
    if len(views) == 1:
        return model
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    outputs = []
    for k, (mirrored, dx, dy) in enumerate(views):
        x = HorizontalFlip(name=f"view{k}_flip")(inputs) if mirrored else inputs
        if dx or dy:
            x = Shift(dx, dy, name=f"view{k}_shift")(x)
        outputs.append(model(x))
    return keras.Model(inputs, AverageProbabilities(name="tta_mean")(outputs), name=f"{model.name}_tta_{mode}")
