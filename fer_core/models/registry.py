"""The model registry: architecture name -> builder (timm style). Architectures register
themselves with ``@register_model`` when ``fer_core.models`` imports them."""

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
