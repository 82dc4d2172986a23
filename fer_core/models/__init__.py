"""Model registry: one builder per architecture, each in its own file (timm style).

A builder takes keyword hyperparameters and returns an uncompiled ``keras.Model`` mapping
(N, 48, 48, 1) images with pixel values 0-255 to 7 softmax probabilities. Scaling (and
augmentation, which is active only in training) live inside the model, so a saved model
needs no preprocessing code beside it.
"""

from __future__ import annotations

from typing import Callable

import keras

ModelBuilder = Callable[..., keras.Model]
_REGISTRY: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _REGISTRY:
            raise ValueError(f"model '{name}' is already registered")
        _REGISTRY[name] = builder
        return builder

    return decorator


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def build_model(name: str, **kwargs) -> keras.Model:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model '{name}'; registered models: {', '.join(list_models())}")
    return _REGISTRY[name](**kwargs)


# Importing the architecture modules registers them.
from fer_core.models import layers, reference, resnet, vgg  # noqa: E402,F401
