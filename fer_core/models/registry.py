"""The model registry: architecture name -> builder (timm style). Architectures register
themselves with ``@register_model`` when ``fer_core.models`` imports them."""

from __future__ import annotations

from typing import Any, Callable

import keras

from fer_core.errors import ConfigError, UnknownNameError

ModelBuilder = Callable[..., keras.Model]
_REGISTRY: dict[str, ModelBuilder] = {}
_TINY: dict[str, dict[str, Any]] = {}


def register_model(name: str, tiny: dict[str, Any] | None = None) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a builder under ``name``. ``tiny``: the smallest sizes it builds with, for the tests
    (which run every registered architecture) and CPU dry runs; without it, its defaults are used."""

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _REGISTRY:
            raise ConfigError(f"model '{name}' is already registered")
        _REGISTRY[name] = builder
        _TINY[name] = dict(tiny or {})
        return builder

    return decorator


def tiny_kwargs(name: str) -> dict[str, Any]:
    """The architecture's smallest sizes (``register_model``'s ``tiny``), a copy."""
    if name not in _REGISTRY:
        raise UnknownNameError(f"unknown model '{name}'; registered models: {', '.join(list_models())}")
    return dict(_TINY[name])


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def build_model(name: str, **kwargs) -> keras.Model:
    if name not in _REGISTRY:
        raise UnknownNameError(f"unknown model '{name}'; registered models: {', '.join(list_models())}")
    from fer_core.models.common import InputOptions

    kwargs = dict(kwargs)
    inputs = InputOptions.take(kwargs)  # the options every architecture's input shares, handed down as one
    return _REGISTRY[name](inputs=inputs, **kwargs)
