"""Test-time augmentation and ensembles, as ordinary Keras models.

Both average softmax outputs inside one functional model, so they run wherever a model runs
(``evaluate``, ``predict``, the dashboard) and an ensemble saves as a single ``.keras`` file
that ``inference.load_model`` loads in safe mode like any other (its layers are registered
in ``fer_core.models.layers``).

TTA views: ``flip`` = the face and its mirror image; ``multicrop`` = those two, each also
shifted by ``MULTICROP_SHIFT`` pixels up, down, left and right (10 views).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from fer_core import IMAGE_SIZE
from fer_core.models.layers import AverageProbabilities, HorizontalFlip, Shift

TTA_MODES = ("none", "flip", "multicrop")
MULTICROP_SHIFT = 2


def tta_views(mode: str) -> list[tuple[bool, int, int]]:
    """(mirrored, dx, dy) for each view of a TTA mode."""
    if mode not in TTA_MODES:
        raise ValueError(f"TTA must be one of {', '.join(TTA_MODES)}, got '{mode}'")
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


def build_ensemble(models: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' probabilities."""
    if len(models) < 2:
        raise ValueError("an ensemble needs at least two models")
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    members = [keras.Model(m.input, m.output, name=f"member{k}") for k, m in enumerate(models)]
    outputs = [member(inputs) for member in members]
    return keras.Model(inputs, AverageProbabilities(name="ensemble_mean")(outputs), name="ensemble")


def save_ensemble(model_paths: list[str | os.PathLike], out_path: str | os.PathLike) -> Path:
    """Combine saved models into one ``.keras`` ensemble file (no optimizer state)."""
    from fer_core.inference import load_model
    from fer_core.training import save_inference_model

    ensemble = build_ensemble([load_model(p) for p in model_paths])
    save_inference_model(ensemble, out_path)
    return Path(out_path)
