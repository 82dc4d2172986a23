"""Test-time augmentation and ensembles, as ordinary Keras models.

Both average softmax outputs inside one functional model, so they run wherever a model runs
(``evaluate``, ``predict``, the dashboard) and an ensemble saves as a single ``.keras`` file
that ``runtime.loading.load_model`` loads in safe mode like any other (its layers are registered
in ``fer_core.models.layers``).

TTA views: ``flip`` = the face and its mirror image; ``multicrop`` = those two, each also
shifted by ``MULTICROP_SHIFT`` pixels up, down, left and right (10 views).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from fer_core.labels import IMAGE_SIZE
from fer_core.models.layers import AverageProbabilities
from fer_core.errors import ModelError

def build_ensemble(models: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' probabilities."""
    if len(models) < 2:
        raise ModelError("an ensemble needs at least two models")
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    members = [keras.Model(m.input, m.output, name=f"member{k}") for k, m in enumerate(models)]
    outputs = [member(inputs) for member in members]
    return keras.Model(inputs, AverageProbabilities(name="ensemble_mean")(outputs), name="ensemble")


def save_ensemble(model_paths: list[str | os.PathLike], out_path: str | os.PathLike) -> Path:
    """Combine saved models into one ``.keras`` ensemble file (no optimizer state)."""
    from fer_core.runtime.loading import load_model
    from fer_core.runtime.saving import save_inference_model

    ensemble = build_ensemble([load_model(p) for p in model_paths])
    save_inference_model(ensemble, out_path)
    return Path(out_path)
