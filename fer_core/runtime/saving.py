"""Saving a model for inference: one home for what training, ensembles and bundling write.

A saved inference model holds architecture and weights without optimizer state (small, for
shipping), computes in float32 whatever precision it trained in, and is written atomically.
"""

from __future__ import annotations

import os
from typing import Any

import keras

from fer_core.fileio import atomic_path


def save_inference_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save weights and architecture without optimizer state (small, for shipping), atomically.

    A model trained with mixed precision is saved computing in float32: its weights are float32
    anyway, and a 16-bit policy would make it slow (or inexact) on machines without such hardware."""
    config = _float32_compute(keras.saving.serialize_keras_object(model))
    config.pop("compile_config", None)  # rebuilt uncompiled: no optimizer state is saved
    clone = keras.saving.deserialize_keras_object(config)
    clone.set_weights(model.get_weights())
    with atomic_path(path) as tmp:
        clone.save(tmp)


def _float32_compute(config: Any) -> Any:
    """A serialized model's config with every mixed-precision dtype policy replaced by float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and str(config.get("config", {}).get("name", "")).startswith(
                "mixed_"):
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {k: _float32_compute(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_float32_compute(v) for v in config]
    return config
